"""`python -m stackmesh_inference --config FILE` runs the inference service."""

from stackmesh_common.server import main
from stackmesh_inference.app import build

main("inference", build)
