"""Durable jobs: records in Postgres, work on NATS JetStream, cancel and watch.

- `JobQueue.submit` writes the job's record (state `scheduled`, typed protobuf payload) and
  publishes its id to the kind's work-queue stream; a record JetStream has not confirmed is
  published later by a sweeper, so an accepted job survives a NATS outage.
- `JobRunner` runs a kind's jobs in a worker process: explicit acks, `in_progress`
  heartbeats while a job runs, redelivery after a worker dies, backoff on failure, and
  cancellation that reaches the running handler within milliseconds (a core NATS message,
  with a Postgres poll as fallback).
- `JobStore.watch` yields a job's record on every change (Postgres LISTEN/NOTIFY).

Delivery is at least once: handlers must be idempotent. The record's attempt count fences
runs: when JetStream redelivers a job whose worker it lost touch with (cut off from NATS,
stalled), the new run's start makes the old one's progress and outcome writes no-ops, and the
old run stops within a second (JobTakenOver).
"""

from stackmesh_common.jobs.queue import JobKind, JobQueue, connect, ensure_stream
from stackmesh_common.jobs.runner import JobContext, JobHandler, JobRunner, JobTakenOver, PermanentJobError
from stackmesh_common.jobs.settings import WorkerSettings
from stackmesh_common.jobs.store import TERMINAL, JobChanges, JobRecord, JobStore

__all__ = [
    "TERMINAL",
    "JobChanges",
    "JobContext",
    "JobHandler",
    "JobKind",
    "JobQueue",
    "JobRecord",
    "JobRunner",
    "JobStore",
    "JobTakenOver",
    "PermanentJobError",
    "WorkerSettings",
    "connect",
    "ensure_stream",
]
