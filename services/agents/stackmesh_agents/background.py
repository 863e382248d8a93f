"""Background responses as durable jobs: `background: true` stores the response `queued` and
queues a job; a worker replays the request through the same loop and stores the result.

A worker killed mid-run leaves its job unacked, so JetStream hands it to another worker,
which runs the response again from the start (the stored rows are overwritten, conversation
items keyed by ID). After `max_deliver` runs it fails with the error recorded; a cancel
stops the loop and records `cancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh_common.errors import NotFound, StackmeshError
from stackmesh_common.jobs import JobContext, JobKind, JobQueue, JobRecord
from stackmesh_common.service import ServiceContext
from stackmesh_agents.items import Item
from stackmesh_agents.loop import AgentLoop, Outcome, Turn
from stackmesh_agents.settings import Settings
from stackmesh_agents.store import ResponseStore
from stackmesh_agents.turns import UNFINISHED, TurnBuilder

log = logging.getLogger("stackmesh.agents.background")

KIND = "response"
# How long a cancel waits for the running worker to record the response cancelled.
CANCEL_WAIT_S = 15.0


@dataclass(frozen=True)
class BackgroundResponses:
    queue: JobQueue
    kind: JobKind
    responses: ResponseStore

    async def submit(self, turn: Turn, request: pb.CreateResponseRequest) -> dict[str, Any]:
        """Stores the response `queued` and queues its job; returns the stored response."""
        queued = {**turn.response, "status": "queued", "output": []}
        await self.responses.save(queued, turn.input, turn.context)
        payload = pb.BackgroundResponseJob(response_id=queued["id"], created_at=queued["created_at"], request=request)
        await self.queue.submit(self.kind, queued["id"], payload)
        return queued

    async def cancel(self, response: dict[str, Any]) -> dict[str, Any]:
        """Cancels an unfinished response and returns it as stored once its job has ended
        (or as it stands after CANCEL_WAIT_S, when no worker holds it yet)."""
        job = await self.queue.cancel(self.kind, response["id"])
        if job.state == "cancelled":  # no worker had started it
            await self.responses.update({**response, "status": "cancelled"})
        else:
            with contextlib.suppress(asyncio.TimeoutError):
                async with asyncio.timeout(CANCEL_WAIT_S):
                    async for record in self.queue.store.watch(response["id"]):
                        if record.terminal:
                            break
        return (await self.responses.get(response["id"], action=None)).response


async def open_background(ctx: ServiceContext, builder: TurnBuilder, loop: AgentLoop) -> BackgroundResponses:
    settings: Settings = ctx.settings
    kind = settings.background.kind(KIND)
    queue = await ctx.job_queue(kind, settings.background, lambda: BackgroundResponseHandler(builder, loop))
    return BackgroundResponses(queue, kind, builder.responses)


class BackgroundResponseHandler:
    payload_type = pb.BackgroundResponseJob

    def __init__(self, builder: TurnBuilder, loop: AgentLoop) -> None:
        self.builder = builder
        self.loop = loop
        self.responses = builder.responses

    async def run(self, job: JobContext) -> dict[str, Any] | None:
        payload: pb.BackgroundResponseJob = job.payload
        try:
            stored = await self.responses.get(payload.response_id, action=None)
        except NotFound:
            return None  # deleted before it ran
        if stored.response["status"] not in UNFINISHED:
            return {"status": stored.response["status"]}  # finished by an earlier delivery
        try:
            turn = await self.builder.build(payload.request, response_id=payload.response_id, created_at=payload.created_at)
        except StackmeshError as exc:
            # Its context changed since it was accepted (a prompt or vector store deleted).
            await self._record(stored.response, status="failed", error={"code": exc.reason, "message": str(exc)})
            return {"status": "failed"}
        if not await self.responses.update({**stored.response, "status": "in_progress"}):
            return None
        log.info("background response started", extra={"fields": {"response_id": payload.response_id, "attempt": job.attempt}})
        outcome, output = Outcome(), []
        running = asyncio.create_task(self._drive(turn, outcome, output, job))
        cancelled = asyncio.create_task(job.cancel_requested.wait())
        try:
            await asyncio.wait({running, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancelled.cancel()
        if not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await self._record(turn.response, status="cancelled", output=output, completed_at=int(time.time()))
            return {"status": "cancelled"}
        running.result()
        try:
            await self.builder.finish(turn, outcome)
        except NotFound as exc:
            log.warning("background response %s finished but %s", payload.response_id, exc)
        log.info("background response finished", extra={"fields": {"response_id": payload.response_id, "status": outcome.response["status"]}})
        return {"status": outcome.response["status"]}

    async def _drive(self, turn: Turn, outcome: Outcome, output: list[Item], job: JobContext) -> None:
        async for event in self.loop.run(turn, outcome):
            if event["type"] == "response.output_item.done":
                output.append(event["item"])
                await job.progress(len(output), phase="generating")

    async def _record(self, response: dict[str, Any], **changes: Any) -> None:
        await self.responses.update({**response, **changes})

    async def failed(self, job: JobContext, error: BaseException) -> None:
        payload: pb.BackgroundResponseJob = job.payload
        with contextlib.suppress(NotFound):
            stored = await self.responses.get(payload.response_id, action=None)
            message = f"the background response failed after {job.attempt} attempts: {error}"
            await self._record(stored.response, status="failed", error={"code": "server_error", "message": message})

    async def cancelled_unstarted(self, record: JobRecord) -> None:
        payload = record.unpack(pb.BackgroundResponseJob)
        with contextlib.suppress(NotFound):
            stored = await self.responses.get(payload.response_id, action=None)
            await self._record(stored.response, status="cancelled")
