"""`python -m stackmesh_agents --config FILE` runs the agents service."""

from stackmesh_common.service import main
from stackmesh_agents.app import SPEC

main(SPEC)
