"""`python -m stackmesh_eval.worker --config FILE`: evaluation jobs in a process of their own.

Set `settings.runs.in_process` and `settings.shards.in_process` to false on the service to
run them only here; any number may run (`services.eval.workers` in a local distribution).
They share the durable consumers, so each shard runs on one worker at a time.
"""

from stackmesh_common.service import main
from stackmesh_eval.app import SPEC

if __name__ == "__main__":
    main(SPEC, worker=True)
