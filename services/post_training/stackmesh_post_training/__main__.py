"""`python -m stackmesh_post_training --config FILE` runs the post_training service."""

from stackmesh_common.service import main
from stackmesh_post_training.app import SPEC

main(SPEC)
