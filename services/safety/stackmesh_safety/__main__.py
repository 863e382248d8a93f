"""`python -m stackmesh_safety --config FILE` runs the safety service."""

from stackmesh_common.server import main
from stackmesh_safety.app import build

main("safety", build)
