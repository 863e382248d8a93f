"""Training jobs on the job runtime: the trainer runs in a thread of the worker, its steps and
checkpoints are relayed to the job's record and tables, and a finished job's model is
exported and registered with the inference service.

A job's checkpoints live under `<data_dir>/jobs/<job id>`: a worker that dies leaves them, and
the job's redelivery resumes from the last one (the trainer restores optimizer, scheduler
and data order, so the step count and the loss curve continue).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackmesh.inference.v1 import inference_service_pb2 as inference_pb
from stackmesh.post_training.v1 import post_training_service_pb2 as pb
from stackmesh_common.errors import AlreadyExists, StackmeshError
from stackmesh_common.jobs import JobContext, JobRecord, PermanentJobError
from stackmesh_common.peers import Peers
from stackmesh_post_training.requests import describe, job_specs
from stackmesh_post_training.settings import Settings
from stackmesh_post_training.store import Step, TrainingStore
from stackmesh_post_training.training.checkpoints import latest_complete, step_of
from stackmesh_post_training.training.errors import DataError, TrainingError
from stackmesh_post_training.training.hooks import CheckpointInfo, Hooks, StepMetrics

log = logging.getLogger("stackmesh.post_training")

KIND = "post_training"


def model_id_of(record_id: str, payload: pb.PostTrainingRunJob) -> str:
    """The id a finished job's model is registered under."""
    return f"{payload.base_model}-{describe(payload)['algorithm']}-{record_id}"


@dataclass(frozen=True)
class Paths:
    data_dir: Path

    def job(self, job_id: str) -> Path:
        return self.data_dir / "jobs" / job_id

    def model(self, model_id: str) -> Path:
        return self.data_dir / "models" / model_id

    @property
    def cache(self) -> Path:
        return self.data_dir / "cache"


class _Relay:
    """Carries the trainer's reports from its thread to the job's record and tables, in order."""

    def __init__(self, job: JobContext, store: TrainingStore, total_steps: int) -> None:
        self.job = job
        self.store = store
        self.total_steps = total_steps
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[StepMetrics | CheckpointInfo | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._drain())

    def hooks(self) -> Hooks:
        put = lambda item: self.loop.call_soon_threadsafe(self.queue.put_nowait, item)  # noqa: E731
        return Hooks(on_step=put, should_stop=self.job.cancel_requested.is_set, on_checkpoint=put)

    async def _drain(self) -> None:
        while True:
            # What piled up while the last write ran is written together.
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            steps: list[StepMetrics] = []
            for item in batch:
                if item is None:
                    await self._steps(steps)
                    return
                if isinstance(item, CheckpointInfo):
                    await self._steps(steps)
                    steps = []
                    await self.store.add_checkpoint(self.job.id, item.step, item.epoch, str(item.path), item.train_loss)
                else:
                    steps.append(item)
            await self._steps(steps)

    async def _steps(self, steps: list[StepMetrics]) -> None:
        if not steps:
            return
        await self.store.add_steps(
            self.job.id, [Step(s.step, s.epoch, s.loss, s.learning_rate, s.tokens_per_s, {**s.extra, "tokens": s.tokens}) for s in steps]
        )
        last = steps[-1]
        phase = f"epoch {last.epoch} · loss {last.loss:.4f} · {last.tokens_per_s:.0f} tokens/s"
        await self.job.progress(last.step, self.total_steps, phase, force=last.step == self.total_steps)

    async def close(self) -> None:
        self.queue.put_nowait(None)
        await self.task


class TrainingHandler:
    payload_type = pb.PostTrainingRunJob

    def __init__(self, peers: Peers, store: TrainingStore, settings: Settings, paths: Paths) -> None:
        self.peers = peers
        self.store = store
        self.settings = settings
        self.paths = paths
        # torch loads with the first job, not with the service.
        self._trainer: Any = None

    def _training(self) -> Any:
        if self._trainer is None:
            import torch

            from stackmesh_post_training import training

            torch.set_num_threads(self.settings.torch_threads)
            self._trainer = training
        return self._trainer

    async def run(self, job: JobContext) -> dict[str, Any] | None:
        payload: pb.PostTrainingRunJob = job.payload
        try:
            spec, dpo = job_specs(payload, self.settings.limits)
        except StackmeshError as exc:
            raise PermanentJobError(exc.message) from None
        request = payload.preference_optimize if dpo else payload.supervised_fine_tune
        dataset_id = request.training_config.data_config.dataset_id
        rows = await self.peers.eval.rows(dataset_id, timeout_s=self.settings.peer_timeout_s, limit=self.settings.limits.max_rows)
        examples = rows if dpo else [row["messages"] for row in rows]
        training = self._training()
        relay = _Relay(job, self.store, spec.n_epochs * spec.max_steps_per_epoch)
        base = Path(payload.base_path)
        output = self.paths.job(job.id)
        if (resumed := latest_complete(output)) is not None:
            log.info("training resumes", extra={"fields": {"job": job.id, "attempt": job.attempt, "checkpoint_step": step_of(resumed)}})
        try:
            if dpo:
                run = lambda: training.train_dpo(base, spec, dpo, examples, output, relay.hooks(), self.paths.cache)  # noqa: E731
            else:
                run = lambda: training.train_sft(base, spec, examples, output, relay.hooks(), self.paths.cache)  # noqa: E731
            result = await asyncio.to_thread(run)
        except DataError as exc:
            raise PermanentJobError(f"dataset `{dataset_id}`: {exc}") from None
        except TrainingError as exc:
            raise PermanentJobError(str(exc)) from None
        finally:
            await relay.close()
        summary = {"steps": result.steps, "train_loss": result.train_loss, "checkpoint": str(result.final_checkpoint)}
        if result.stopped:
            return summary  # cancelled: the checkpoints stay, nothing is registered
        model_id = model_id_of(job.id, payload)
        exported = await asyncio.to_thread(training.export_servable, result.final_checkpoint, base, self.paths.model(model_id), self.paths.cache)
        await self._register(model_id, exported, payload)
        await self.store.set_model(job.id, result.steps, model_id)
        log.info("trained model registered", extra={"fields": {"job": job.id, "model": model_id, "steps": result.steps}})
        return {**summary, "model_id": model_id}

    async def _register(self, model_id: str, path: Path, payload: pb.PostTrainingRunJob) -> None:
        request = inference_pb.RegisterModelRequest(
            model_id=model_id, provider_id=self.settings.serving_provider_id, provider_model_id=str(path), model_type="llm"
        )
        request.metadata.update({"base_model": payload.base_model, **describe(payload)})
        try:
            await self.peers.inference.register_model(request, timeout_s=self.settings.peer_timeout_s)
        except AlreadyExists:
            pass  # registered by a run that died before recording it

    async def failed(self, job: JobContext, error: BaseException) -> None:
        return None  # the checkpoints stay for a look at what happened

    async def cancelled_unstarted(self, record: JobRecord) -> None:
        return None
