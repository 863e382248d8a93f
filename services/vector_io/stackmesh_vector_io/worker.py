"""`python -m stackmesh_vector_io.worker --config FILE`: ingestion workers in a process of their own.

For scaling ingestion apart from the API (set `settings.ingestion.in_process: false` on the
service). Any number may run; they share the durable consumer, so each job runs on one.
"""

from stackmesh_common.service import main
from stackmesh_vector_io.app import SPEC

if __name__ == "__main__":
    main(SPEC, worker=True)
