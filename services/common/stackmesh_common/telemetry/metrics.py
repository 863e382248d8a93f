"""Prometheus metrics of a process, served on its own port at /metrics.

Recorded where they happen: gRPC calls by the server interceptor, tokens and embeddings by
inference, job states and queue depth by a background watcher, pool use when scraped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger("stackmesh.metrics")
# A `_created` timestamp per series doubles the output for nothing a dashboard uses.
disable_created_metrics()

# Seconds between reads of the job table and the queues' consumers.
JOBS_WATCH_S = 5.0
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

RPC_CALLS = Counter("stackmesh_rpc_calls", "gRPC calls served, by method and status code", ["method", "code"])
RPC_SECONDS = Histogram("stackmesh_rpc_duration_seconds", "Time to serve a gRPC call (whole stream for streams)", ["method"], buckets=_LATENCY_BUCKETS)
TOKENS = Counter("stackmesh_tokens", "Tokens processed by generation, by model and direction (prompt, completion)", ["model", "direction"])
TOKENS_PER_SECOND = Histogram(
    "stackmesh_generation_tokens_per_second",
    "Completion tokens per second of each generation",
    ["model"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
)
EMBEDDINGS = Counter("stackmesh_embeddings", "Inputs embedded, by model", ["model"])
JOBS = Gauge("stackmesh_jobs", "Jobs in this service's job table, by kind and state", ["kind", "state"])
QUEUE_PENDING = Gauge("stackmesh_job_queue_pending", "Jobs queued in JetStream that no worker has taken yet, by kind", ["kind"])


class PoolCollector(Collector):
    """Connection pool use, read from the pool when scraped."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.pool.get_stats()
        size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
        connections = GaugeMetricFamily("stackmesh_db_pool_connections", "Postgres pool connections, by state", labels=["state"])
        connections.add_metric(["in_use"], size - idle)
        connections.add_metric(["idle"], idle)
        yield connections
        yield GaugeMetricFamily("stackmesh_db_pool_max", "Largest size of the Postgres pool", value=self.pool.max_size)
        yield GaugeMetricFamily("stackmesh_db_pool_waiting", "Requests waiting for a Postgres connection", value=stats.get("requests_waiting", 0))


# Whether this process records per-call metrics (set when it serves them).
enabled = False


def serve(host: str, port: int, pool: AsyncConnectionPool) -> None:
    """Starts the /metrics endpoint (a daemon thread) and the pool collector."""
    global enabled
    REGISTRY.register(PoolCollector(pool))
    start_http_server(port, addr=host)
    enabled = True


async def watch_jobs(pool: AsyncConnectionPool, nats: NatsClient, kinds: dict[str, tuple[str, str]]) -> None:
    """Refreshes the job gauges: states from the job table, pending messages per kind from its
    JetStream consumer (`kinds`: kind -> (stream, durable consumer))."""
    js = nats.jetstream()
    while True:
        try:
            async with pool.connection() as conn:
                rows = await (await conn.execute("SELECT kind, state, count(*) FROM jobs GROUP BY kind, state")).fetchall()
            JOBS.clear()
            for kind, state, count in rows:
                JOBS.labels(kind, state).set(count)
            for kind, (stream, durable) in list(kinds.items()):
                try:
                    QUEUE_PENDING.labels(kind).set((await js.consumer_info(stream, durable)).num_pending)
                except Exception:
                    pass  # no worker has created the consumer yet
        except Exception as exc:
            log.debug("reading job metrics failed: %s", exc)
        await asyncio.sleep(JOBS_WATCH_S)
