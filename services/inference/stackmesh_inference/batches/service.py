"""The Batches API: create, retrieve, list, cancel and watch OpenAI batches."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from stackmesh.common.v1 import job_pb2
from stackmesh.inference.v1 import batch_service_pb2 as pb
from stackmesh.inference.v1 import batch_service_pb2_grpc as pb_grpc
from stackmesh_common.access import Action
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.jobs import JobKind, JobQueue
from stackmesh_common.peers import FilesClient
from stackmesh_common.service import ServiceContext
from stackmesh_inference.batches.handler import PEER_TIMEOUT_S, BatchHandler
from stackmesh_inference.batches.store import FINAL, BatchRecord, BatchRepository, Counts
from stackmesh_inference.batches.validation import check_create
from stackmesh_inference.settings import Settings

KIND = "batch"
_TIMES = ("in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at")


@dataclass
class Batches:
    repository: BatchRepository
    queue: JobQueue
    kind: JobKind
    files: FilesClient


async def open_batches(ctx: ServiceContext) -> Batches:
    settings: Settings = ctx.settings
    batch = settings.batches
    kind = batch.kind(KIND)
    repository = BatchRepository(ctx.pool)
    queue = await ctx.job_queue(kind, batch, lambda: BatchHandler(repository, ctx.peers, batch))
    return Batches(repository, queue, kind, ctx.peers.files)


def batch_to_proto(batch: BatchRecord, counts: Counts | None) -> pb.Batch:
    counts = counts or Counts()
    message = pb.Batch(
        id=batch.id,
        object="batch",
        endpoint=batch.endpoint,
        input_file_id=batch.input_file_id,
        completion_window=batch.completion_window,
        status=batch.status,
        created_at=batch.created_at,
        expires_at=batch.expires_at,
        metadata=batch.metadata,
        request_counts=pb.BatchRequestCounts(total=counts.total, completed=counts.completed, failed=counts.failed),
    )
    if batch.model:
        message.model = batch.model
    if batch.output_file_id:
        message.output_file_id = batch.output_file_id
    if batch.error_file_id:
        message.error_file_id = batch.error_file_id
    for name in _TIMES:
        if (value := getattr(batch, name)) is not None:
            setattr(message, name, value)
    if batch.errors:
        message.errors.object = "list"
        for error in batch.errors:
            item = message.errors.data.add(code=error.get("code") or "", message=error.get("message") or "")
            if error.get("param"):
                item.param = error["param"]
            if error.get("line"):
                item.line = int(error["line"])
    if counts.total and batch.status in FINAL | {"finalizing"}:
        message.usage.input_tokens = counts.input_tokens
        message.usage.output_tokens = counts.output_tokens
        message.usage.total_tokens = counts.input_tokens + counts.output_tokens
    return message


class BatchesServicer(pb_grpc.BatchesServiceServicer):
    def __init__(self, batches: Batches) -> None:
        self.batches = batches

    async def _proto(self, batch: BatchRecord) -> pb.Batch:
        counts = await self.batches.repository.counts([batch.id])
        return batch_to_proto(batch, counts.get(batch.id))

    async def CreateBatch(self, request: pb.CreateBatchRequest, context: Any) -> pb.Batch:
        if not request.input_file_id:
            raise InvalidArgument("`input_file_id` is required", param="input_file_id")
        metadata = dict(request.metadata)
        check_create(request.endpoint, request.completion_window, metadata)
        file = await self.batches.files.get(request.input_file_id, timeout_s=PEER_TIMEOUT_S, param="input_file_id")
        if file.purpose != "batch":
            raise InvalidArgument(
                f"file `{file.id}` has purpose {file.purpose!r}; a batch's input file must be uploaded with purpose \"batch\"",
                param="input_file_id",
            )
        batch, created = await self.batches.repository.create(
            f"batch_{uuid.uuid4().hex}",
            request.endpoint,
            request.input_file_id,
            request.completion_window,
            metadata,
            request.idempotency_key if request.HasField("idempotency_key") else None,
        )
        # Submitting again is harmless (the job id is the batch id), and finishes what a
        # create that died between its two writes left undone.
        await self.batches.queue.submit(self.batches.kind, batch.id, pb.BatchJob(batch_id=batch.id))
        return await self._proto(batch)

    async def GetBatch(self, request: pb.GetBatchRequest, context: Any) -> pb.Batch:
        return await self._proto(await self.batches.repository.get(request.batch_id, Action.READ))

    async def ListBatches(self, request: pb.ListBatchesRequest, context: Any) -> pb.ListBatchesResponse:
        page = await self.batches.repository.list(
            request.after if request.HasField("after") else "", request.limit if request.HasField("limit") else None
        )
        counts = await self.batches.repository.counts([b.id for b in page.items])
        data = [batch_to_proto(b, counts.get(b.id)) for b in page.items]
        response = pb.ListBatchesResponse(object="list", data=data, has_more=page.has_more)
        if data:
            response.first_id, response.last_id = data[0].id, data[-1].id
        return response

    async def CancelBatch(self, request: pb.CancelBatchRequest, context: Any) -> pb.Batch:
        batch = await self.batches.repository.get(request.batch_id, Action.WRITE)
        if batch.status in FINAL:
            return await self._proto(batch)
        await self.batches.repository.set_status(batch.id, "cancelling")
        job = await self.batches.queue.cancel(self.batches.kind, batch.id)
        if job.state == "cancelled":
            # It had not started: nothing ran, nothing to write.
            await self.batches.repository.set_status(batch.id, "cancelled")
        return await self._proto(await self.batches.repository.get(batch.id))

    async def WatchBatch(self, request: pb.WatchBatchRequest, context: Any) -> AsyncIterator[job_pb2.Job]:
        await self.batches.repository.get(request.batch_id, Action.READ)
        async for record in self.batches.queue.store.watch(request.batch_id):
            yield record.to_proto()
