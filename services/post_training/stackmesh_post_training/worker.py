"""`python -m stackmesh_post_training.worker --config FILE`: training and synthetic data jobs in
a process of their own.

Set `settings.jobs.in_process` (and `settings.synthetic.in_process`) to false on the service to
run them only in these (training on the GPU machines, say); any number may run, each taking
one training job at a time.
"""

from stackmesh_common.service import main
from stackmesh_post_training.app import SPEC

if __name__ == "__main__":
    main(SPEC, worker=True)
