"""`python -m stackmesh_auth --config FILE` runs the auth service."""

from stackmesh_auth.app import SPEC
from stackmesh_common.service import main

main(SPEC)
