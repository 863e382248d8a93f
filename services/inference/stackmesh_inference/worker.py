"""`python -m stackmesh_inference.worker --config FILE`: batch workers in a process of their own.

For scaling batches apart from the API (set `settings.batches.in_process: false` on the
service). Any number may run; they share the durable consumer, so each batch runs on one.
"""

from stackmesh_common.service import main
from stackmesh_inference.app import SPEC

if __name__ == "__main__":
    main(SPEC, worker=True)
