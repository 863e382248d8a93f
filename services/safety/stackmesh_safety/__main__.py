"""`python -m stackmesh_safety --config FILE` runs the safety service."""

from stackmesh_common.service import main
from stackmesh_safety.app import SPEC

main(SPEC)
