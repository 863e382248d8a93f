"""Generation jobs on the job runtime: per dialog, `num_candidates` answers sampled one at a
time from the model, scored together by the eval service, and stored; then every dialog's
kept answers are written as one post-training/messages dataset of the eval service.

A redelivered job skips the dialogs already stored, and finds its dataset already written
when the delivery that died got that far.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any

from stackmesh.common.v1 import chat_pb2
from stackmesh.inference.v1 import inference_service_pb2 as inference_pb
from stackmesh.synthetic_data.v1 import synthetic_data_service_pb2 as pb
from stackmesh_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, StackmeshError
from stackmesh_common.jobs import JobContext, JobRecord, PermanentJobError
from stackmesh_common.peers import Peers
from stackmesh_common.protojson import plain
from stackmesh_post_training.settings import Settings
from stackmesh_post_training.synthetic.filters import Candidate, kept
from stackmesh_post_training.synthetic.request import Dialog, GenerationSpec, generation_spec
from stackmesh_post_training.synthetic.store import SyntheticStore

log = logging.getLogger("stackmesh.post_training")

KIND = "synthetic_data"
PURPOSE = "post-training/messages"
# What the services called refuse because of the request: retrying cannot help.
REFUSALS = (InvalidArgument, NotFound, FailedPrecondition)


def dataset_id_of(job_id: str) -> str:
    return f"synthetic-{job_id}"


@dataclass(frozen=True)
class Outcome:
    """The kept rows of a job (its dataset's rows) and what generating them counted."""

    rows: list[dict[str, Any]]
    statistics: dict[str, Any]


def outcome(job_id: str, spec: GenerationSpec, dataset_id: str, scored: dict[int, list[Candidate]]) -> Outcome:
    rows, per_dialog = [], []
    for index, dialog in enumerate(spec.dialogs):
        candidates = scored.get(index, [])
        chosen = kept(candidates, spec.filter, f"{job_id}:{index}")
        rows += [{"messages": [*dialog, {"role": "assistant", "content": c.answer}], "score": c.score} for c in chosen]
        per_dialog.append({"scores": [c.score for c in candidates], "kept": [c.index for c in chosen]})
    statistics = {
        "dataset_id": dataset_id,
        "dialogs": len(spec.dialogs),
        "generated": sum(len(s) for s in scored.values()),
        "scored": sum(c.score is not None for s in scored.values() for c in s),
        "kept": len(rows),
        # Per dialog: each candidate's score (null: unscored) and the candidates kept, best first.
        "per_dialog": per_dialog,
    }
    return Outcome(rows, statistics)


def _number(value: Any) -> float | None:
    # A categorical grade ("A") or a missing score cannot be ranked.
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class SyntheticHandler:
    payload_type = pb.GenerateRequest

    def __init__(self, peers: Peers, store: SyntheticStore, settings: Settings) -> None:
        self.peers = peers
        self.store = store
        self.settings = settings

    async def run(self, job: JobContext) -> dict[str, Any] | None:
        request: pb.GenerateRequest = job.payload
        try:
            spec = generation_spec(request, self.settings.limits.max_dialogs)
        except StackmeshError as exc:
            raise PermanentJobError(exc.message) from None
        scored = await self.store.dialogs(job.id)
        if scored:
            log.info("synthetic data job resumed", extra={"fields": {"job": job.id, "attempt": job.attempt, "dialogs_stored": len(scored)}})
        total = len(spec.dialogs)
        for index, dialog in enumerate(spec.dialogs):
            if index in scored:
                continue
            answers = []
            for number in range(spec.num_candidates):
                if job.cancel_requested.is_set():
                    return None
                answers.append(await self._sample(job.id, spec, dialog, index, number))
            scored[index] = await self._score(spec, dialog, answers, index)
            await self.store.add_dialog(job.id, index, scored[index])
            await job.progress(len(scored), total, "generating", force=len(scored) == total)
        result = outcome(job.id, spec, request.dataset_id, scored)
        await self._write(job, spec, request.dataset_id, result.rows)
        return {key: result.statistics[key] for key in ("dataset_id", "dialogs", "generated", "scored", "kept")}

    async def _sample(self, job_id: str, spec: GenerationSpec, dialog: Dialog, index: int, number: int) -> str:
        request = inference_pb.CreateChatCompletionRequest(
            model=spec.model,
            temperature=spec.temperature,
            max_tokens=spec.max_tokens,
            # Distinct per answer, and the same again when a redelivered job redoes the dialog.
            seed=zlib.crc32(f"{job_id}:{index}:{number}".encode()),
            store=False,
        )
        for message in dialog:
            request.messages.append(chat_pb2.ChatMessage(role=message["role"]))
            request.messages[-1].content.string_value = message["content"]
        try:
            completion = await self.peers.inference.chat_completion(request, timeout_s=self.settings.peer_timeout_s)
        except REFUSALS as exc:
            raise PermanentJobError(f"dialog {index}: {exc.message}") from None
        return completion.choices[0].message.content if completion.choices else ""

    async def _score(self, spec: GenerationSpec, dialog: Dialog, answers: list[str], index: int) -> list[Candidate]:
        question = next(m["content"] for m in reversed(dialog) if m["role"] == "user")
        rows = [{"input_query": question, "generated_answer": answer, "expected_answer": ""} for answer in answers]
        try:
            results = await self.peers.eval.score(rows, {spec.scoring_function: spec.scoring_params}, timeout_s=self.settings.peer_timeout_s)
        except REFUSALS as exc:
            raise PermanentJobError(f"scoring the answers of dialog {index}: {exc.message}") from None
        candidates = []
        for number, (answer, row) in enumerate(zip(answers, results[spec.scoring_function])):
            score = _number(row.get("score"))
            error = row.get("error") or (None if score is not None else f"the score {row.get('score')!r} is not a number")
            candidates.append(Candidate(number, answer, score, error))
        return candidates

    async def _write(self, job: JobContext, spec: GenerationSpec, dataset_id: str, rows: list[dict[str, Any]]) -> None:
        await job.progress(len(spec.dialogs), len(spec.dialogs), "writing the dataset", force=True)
        metadata = {"synthetic_data_job": job.id, "model": spec.model, "scoring_function": spec.scoring_function,
                    "filtering_function": spec.filter.function}  # fmt: skip
        timeout_s = self.settings.peer_timeout_s
        try:
            await self.peers.eval.register_dataset(PURPOSE, rows, metadata, timeout_s=timeout_s, dataset_id=dataset_id)
        except AlreadyExists:
            # Written by a delivery that died before its ack, unless someone took the id meanwhile
            # (another tenant's dataset, which the job's owner cannot even read, included).
            try:
                dataset = await self.peers.eval.dataset(dataset_id, timeout_s=timeout_s, param="dataset_id")
            except NotFound:
                dataset = None
            if dataset is None or plain(dataset.metadata).get("synthetic_data_job") != job.id:
                raise PermanentJobError(f"the dataset `{dataset_id}` was registered by someone else while the job ran") from None
        except REFUSALS as exc:
            raise PermanentJobError(f"writing the dataset `{dataset_id}`: {exc.message}") from None

    async def failed(self, job: JobContext, error: BaseException) -> None:
        return None  # the stored dialogs stay for a look at what was scored

    async def cancelled_unstarted(self, record: JobRecord) -> None:
        return None
