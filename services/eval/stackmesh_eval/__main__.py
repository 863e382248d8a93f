"""`python -m stackmesh_eval --config FILE` runs the eval service."""

from stackmesh_common.service import main
from stackmesh_eval.app import SPEC

main(SPEC)
