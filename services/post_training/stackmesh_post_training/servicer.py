"""gRPC servicer of Llama Stack's post-training API (/v1alpha/post-training)."""

from __future__ import annotations

import math
import re
import uuid
from datetime import datetime, timezone
from typing import Any, AsyncIterator

from google.protobuf import empty_pb2

from stackmesh.common.v1 import job_pb2
from stackmesh.post_training.v1 import post_training_pb2 as types_pb
from stackmesh.post_training.v1 import post_training_service_pb2 as pb
from stackmesh.post_training.v1 import post_training_service_pb2_grpc as pb_grpc
from stackmesh_common.access import Action
from stackmesh_common.errors import AlreadyExists, InvalidArgument, NotFound
from stackmesh_common.jobs import JobKind, JobQueue, JobRecord
from stackmesh_common.peers import Peers
from stackmesh_post_training.base_models import BaseModels
from stackmesh_post_training.jobs import KIND
from stackmesh_post_training.requests import describe, job_specs
from stackmesh_post_training.settings import Settings
from stackmesh_post_training.store import StoredCheckpoint, TrainingStore

# Job ids name folders of checkpoints: one path segment, nothing else.
JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
DATASET_PARAM = "training_config.data_config.dataset_id"
TRAINABLE_ROLES = ("system", "user", "assistant")


def _time(seconds: int | None) -> str | None:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat() if seconds else None


def _text(content: Any) -> str | None:
    """A message's text, or None when it holds more than text (images)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(p.get("text", "") for p in content)
    return None


def check_conversations(rows: list[dict[str, Any]]) -> None:
    """What the trainer cannot render, refused before a job is queued, naming the row."""
    for index, row in enumerate(rows):
        messages = row.get("messages") or []
        for number, message in enumerate(messages):
            if message.get("role") not in TRAINABLE_ROLES:
                raise InvalidArgument(
                    f"row {index}: message {number} has role {message.get('role')!r}; training takes {', '.join(TRAINABLE_ROLES)} messages",
                    param=DATASET_PARAM,
                )
            if _text(message.get("content")) is None:
                raise InvalidArgument(f"row {index}: message {number} holds more than text; training takes text only", param=DATASET_PARAM)
        if not any(m.get("role") == "assistant" and (_text(m.get("content")) or "").strip() for m in messages):
            raise InvalidArgument(f"row {index} has no assistant message with text to learn", param=DATASET_PARAM)


def checkpoint_proto(checkpoint: StoredCheckpoint) -> types_pb.Checkpoint:
    message = types_pb.Checkpoint(
        identifier=checkpoint.model_id or f"{checkpoint.job_id}/checkpoint-{checkpoint.step}",
        created_at=checkpoint.created_at.isoformat(),
        epoch=checkpoint.epoch,
        post_training_job_id=checkpoint.job_id,
        path=checkpoint.path,
    )
    if checkpoint.train_loss is not None:
        message.training_metrics.CopyFrom(
            types_pb.PostTrainingMetric(
                epoch=checkpoint.epoch, train_loss=checkpoint.train_loss, perplexity=math.exp(min(checkpoint.train_loss, 50.0))
            )
        )
    return message


class PostTrainingServicer(pb_grpc.PostTrainingServiceServicer):
    def __init__(self, queue: JobQueue, kind: JobKind, store: TrainingStore, base_models: BaseModels, peers: Peers, settings: Settings) -> None:
        self.queue = queue
        self.kind = kind
        self.store = store
        self.base_models = base_models
        self.peers = peers
        self.settings = settings

    async def _submit(self, job_uuid: str, payload: pb.PostTrainingRunJob, dataset_id: str, purpose: str) -> types_pb.PostTrainingJob:
        job_id = job_uuid or f"ptj-{uuid.uuid4().hex}"
        if not JOB_ID.fullmatch(job_id):
            raise InvalidArgument("`job_uuid` must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", param="job_uuid")
        dataset = await self.peers.eval.dataset(dataset_id, timeout_s=self.settings.peer_timeout_s, param=DATASET_PARAM)
        if dataset.purpose != purpose:
            raise InvalidArgument(f"dataset `{dataset_id}` has purpose {dataset.purpose}; this job takes {purpose} datasets", param=DATASET_PARAM)
        rows = await self.peers.eval.rows(dataset_id, timeout_s=self.settings.peer_timeout_s, limit=self.settings.limits.max_rows + 1)
        if not rows:
            raise InvalidArgument(f"dataset `{dataset_id}` has no rows", param=DATASET_PARAM)
        if len(rows) > self.settings.limits.max_rows:
            raise InvalidArgument(f"dataset `{dataset_id}` has more than {self.settings.limits.max_rows} rows, the limit", param=DATASET_PARAM)
        if purpose == "post-training/messages":
            check_conversations(rows)
        try:
            await self.queue.store.get(job_id)
            raise AlreadyExists(f"a job `{job_id}` already exists; give a new job_uuid", param="job_uuid")
        except NotFound:
            pass
        metadata = {key: str(value) for key, value in describe(payload).items()}
        record = await self.queue.submit(self.kind, job_id, payload, metadata=metadata)
        return types_pb.PostTrainingJob(job_uuid=record.id, job=record.to_proto())

    async def SupervisedFineTune(self, request: pb.SupervisedFineTuneRequest, context: Any) -> types_pb.PostTrainingJob:
        if request.HasField("checkpoint_dir") and request.checkpoint_dir:
            raise InvalidArgument("`checkpoint_dir` is chosen by the server (services.post_training.settings.data_dir); leave it out", param="checkpoint_dir")
        model = request.model if request.HasField("model") else ""
        payload = pb.PostTrainingRunJob(supervised_fine_tune=request, base_model=model)
        job_specs(payload, self.settings.limits)
        if not model:
            raise InvalidArgument("`model` is required: the id of a registered llm to fine-tune", param="model")
        payload.base_path = str(await self.base_models.weights(model, "model"))
        return await self._submit(request.job_uuid, payload, request.training_config.data_config.dataset_id, "post-training/messages")

    async def PreferenceOptimize(self, request: pb.PreferenceOptimizeRequest, context: Any) -> types_pb.PostTrainingJob:
        payload = pb.PostTrainingRunJob(preference_optimize=request, base_model=request.finetuned_model)
        job_specs(payload, self.settings.limits)
        if not request.finetuned_model:
            raise InvalidArgument("`finetuned_model` is required: the id of a registered llm to optimize", param="finetuned_model")
        payload.base_path = str(await self.base_models.weights(request.finetuned_model, "finetuned_model"))
        return await self._submit(request.job_uuid, payload, request.training_config.data_config.dataset_id, "post-training/preference")

    async def ListJobs(self, request: pb.ListJobsRequest, context: Any) -> pb.ListJobsResponse:
        page = await self.queue.store.list(KIND, limit=1000)
        return pb.ListJobsResponse(data=[types_pb.PostTrainingJob(job_uuid=r.id, job=r.to_proto()) for r in page.items])

    async def _job(self, job_uuid: str, action: Action = Action.READ) -> JobRecord:
        """The job, if the caller may do `action` to it; another tenant's is as absent as a missing one."""
        try:
            return await self.queue.store.get(job_uuid, kind=KIND, action=action)
        except NotFound:
            raise NotFound(f"The post-training job `{job_uuid}` does not exist", param="job_uuid", reason="job_not_found") from None

    async def GetJobStatus(self, request: pb.GetJobStatusRequest, context: Any) -> types_pb.PostTrainingJobStatusResponse:
        record = await self._job(request.job_uuid)
        status = types_pb.PostTrainingJobStatusResponse(
            job_uuid=record.id,
            status=record.state,
            checkpoints=[checkpoint_proto(c) for c in await self.store.checkpoints(record.id)],
            job=record.to_proto(),
        )
        for field, seconds in (("scheduled_at", record.created_at), ("started_at", record.started_at), ("completed_at", record.completed_at)):
            if (value := _time(seconds)) is not None:
                setattr(status, field, value)
        for step in await self.store.steps(record.id):
            status.steps.add(
                step=step.step, epoch=step.epoch, loss=step.loss, learning_rate=step.learning_rate,
                tokens_per_second=step.tokens_per_s, metrics=step.metrics,
            )  # fmt: skip
        return status

    async def GetJobArtifacts(self, request: pb.GetJobArtifactsRequest, context: Any) -> types_pb.PostTrainingJobArtifactsResponse:
        record = await self._job(request.job_uuid)
        checkpoints = [checkpoint_proto(c) for c in await self.store.checkpoints(record.id)]
        return types_pb.PostTrainingJobArtifactsResponse(job_uuid=record.id, checkpoints=checkpoints)

    async def CancelJob(self, request: pb.CancelJobRequest, context: Any) -> empty_pb2.Empty:
        await self._job(request.job_uuid, Action.WRITE)
        await self.queue.cancel(self.kind, request.job_uuid)
        return empty_pb2.Empty()

    async def WatchJob(self, request: pb.WatchJobRequest, context: Any) -> AsyncIterator[job_pb2.Job]:
        await self._job(request.job_uuid)
        async for record in self.queue.store.watch(request.job_uuid):
            yield record.to_proto()
