"""`python -m stackmesh_inference --config FILE` runs the inference service."""

from stackmesh_common.service import main
from stackmesh_inference.app import SPEC

main(SPEC)
