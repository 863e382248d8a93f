"""gRPC servicer of Llama Stack's synthetic data generation API (/v1/synthetic-data-generation),
its generation run as a job."""

from __future__ import annotations

import uuid
from typing import Any, AsyncIterator

from stackmesh.common.v1 import job_pb2
from stackmesh.synthetic_data.v1 import synthetic_data_service_pb2 as pb
from stackmesh.synthetic_data.v1 import synthetic_data_service_pb2_grpc as pb_grpc
from stackmesh_common.access import Action
from stackmesh_common.errors import AlreadyExists, NotFound
from stackmesh_common.jobs import JobKind, JobQueue, JobRecord
from stackmesh_common.peers import Peers
from stackmesh_post_training.settings import Settings
from stackmesh_post_training.synthetic.jobs import KIND, dataset_id_of, outcome
from stackmesh_post_training.synthetic.request import GenerationSpec, generation_spec
from stackmesh_post_training.synthetic.store import SyntheticStore


class SyntheticDataServicer(pb_grpc.SyntheticDataGenerationServiceServicer):
    def __init__(self, queue: JobQueue, kind: JobKind, store: SyntheticStore, peers: Peers, settings: Settings) -> None:
        self.queue = queue
        self.kind = kind
        self.store = store
        self.peers = peers
        self.settings = settings

    async def _check_peers(self, spec: GenerationSpec, dataset_id: str | None) -> None:
        """What the inference and eval services would refuse, refused before a job is queued."""
        timeout_s = self.settings.peer_timeout_s
        await self.peers.inference.require_model(spec.model, timeout_s=timeout_s, param="model")
        await self.peers.eval.scoring_function(spec.scoring_function, timeout_s=timeout_s, param="scoring_function")
        judge = (spec.scoring_params or {}).get("judge_model")
        if isinstance(judge, str) and judge:
            await self.peers.inference.require_model(judge, timeout_s=timeout_s, param="scoring_params.judge_model", noun="judge model")
        if dataset_id is not None:
            try:
                await self.peers.eval.dataset(dataset_id, timeout_s=timeout_s, param="dataset_id")
            except NotFound:
                return
            raise AlreadyExists(f"a dataset `{dataset_id}` already exists; give a new dataset_id", param="dataset_id")

    async def Generate(self, request: pb.GenerateRequest, context: Any) -> pb.GenerateResponse:
        spec = generation_spec(request, self.settings.limits.max_dialogs)
        await self._check_peers(spec, request.dataset_id if request.HasField("dataset_id") else None)
        job_id = f"sdg-{uuid.uuid4().hex}"
        payload = pb.GenerateRequest()
        payload.CopyFrom(request)
        if not payload.HasField("dataset_id"):
            payload.dataset_id = dataset_id_of(job_id)
        metadata = {"model": spec.model, "filtering_function": spec.filter.function, "dataset_id": payload.dataset_id}
        record = await self.queue.submit(self.kind, job_id, payload, metadata=metadata, total=len(spec.dialogs))
        return pb.GenerateResponse(job=record.to_proto())

    async def ListGenerationJobs(self, request: pb.ListGenerationJobsRequest, context: Any) -> pb.ListGenerationJobsResponse:
        page = await self.queue.store.list(KIND, after=request.after, limit=request.limit if request.HasField("limit") else None)
        return pb.ListGenerationJobsResponse(data=[r.to_proto() for r in page.items], has_more=page.has_more)

    async def _job(self, job_id: str, action: Action = Action.READ) -> JobRecord:
        """The job, if the caller may do `action` to it; another tenant's is as absent as a missing one."""
        try:
            return await self.queue.store.get(job_id, kind=KIND, action=action)
        except NotFound:
            raise NotFound(f"The synthetic data generation job `{job_id}` does not exist", param="job_id", reason="job_not_found") from None

    async def GetGenerationJob(self, request: pb.GetGenerationJobRequest, context: Any) -> job_pb2.Job:
        return (await self._job(request.job_id)).to_proto()

    async def CancelGenerationJob(self, request: pb.CancelGenerationJobRequest, context: Any) -> job_pb2.Job:
        await self._job(request.job_id, Action.WRITE)
        return (await self.queue.cancel(self.kind, request.job_id)).to_proto()

    async def WatchGenerationJob(self, request: pb.WatchGenerationJobRequest, context: Any) -> AsyncIterator[job_pb2.Job]:
        await self._job(request.job_id)
        async for record in self.queue.store.watch(request.job_id):
            yield record.to_proto()

    async def GetGenerationResult(self, request: pb.GetGenerationResultRequest, context: Any) -> pb.SyntheticDataGenerationResponse:
        record = await self._job(request.job_id)
        record.require_completed()
        payload = record.unpack(pb.GenerateRequest)
        spec = generation_spec(payload, self.settings.limits.max_dialogs)
        result = outcome(record.id, spec, payload.dataset_id, await self.store.dialogs(record.id))
        response = pb.SyntheticDataGenerationResponse()
        for row in result.rows:
            response.synthetic_data.add().update(row)
        response.statistics.update(result.statistics)
        return response
