"""`python -m stackmesh_vector_io --config FILE` runs the vector_io service."""

from stackmesh_common.service import main
from stackmesh_vector_io.app import SPEC

main(SPEC)
