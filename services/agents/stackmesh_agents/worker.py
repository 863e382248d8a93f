"""`python -m stackmesh_agents.worker --config FILE`: background responses in a process of their own.

For scaling background responses apart from the API (set `settings.background.in_process:
false` on the service). Any number may run; they share the durable consumer, so each
response runs on one.
"""

from stackmesh_common.service import main
from stackmesh_agents.app import SPEC

if __name__ == "__main__":
    main(SPEC, worker=True)
