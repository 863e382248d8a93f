"""`python -m stackmesh_vector_io.worker --config FILE`: ingestion workers in a process of their own.

For scaling ingestion apart from the API (set `settings.ingestion.in_process: false` on the
service). Any number may run; they share the durable consumer, so each job runs on one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from stackmesh_common.config import ConfigError, StackConfig, load_config
from stackmesh_common.logging import setup_logging
from stackmesh_vector_io.runtime import open_runtime

log = logging.getLogger("stackmesh.vector_io.worker")


async def run(config: StackConfig) -> None:
    runtime = await open_runtime(config)
    worker = runtime.worker()
    await worker.start()
    log.info("ingestion worker started", extra={"fields": {"concurrency": worker.concurrency}})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await worker.stop()
    await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="stackmesh-vector-io-worker")
    parser.add_argument("--config", required=True, help="distribution YAML file")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    setup_logging("vector_io.worker", args.log_level)
    try:
        asyncio.run(run(load_config(args.config)))
    except ConfigError as exc:
        raise SystemExit(f"stackmesh-vector-io-worker: {exc}") from None


if __name__ == "__main__":
    main()
