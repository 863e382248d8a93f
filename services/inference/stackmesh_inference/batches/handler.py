"""Runs one batch as a job: validate the input, send its requests, write the result files.

Each phase is idempotent, so a redelivered batch (its worker killed, Postgres or NATS
restarted) resumes where it was: validated lines are stored once, a line's result is
written once, and output files are uploaded once their batch knows no file id for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

from google.protobuf import json_format

from stackmesh.inference.v1 import batch_service_pb2 as pb
from stackmesh.inference.v1 import inference_service_pb2 as inference_pb
from stackmesh_common.errors import DeadlineExceeded, InvalidArgument, StackmeshError, Unavailable
from stackmesh_common.jobs import JobContext, JobRecord
from stackmesh_common.peers import Peers
from stackmesh_common.protojson import from_json, to_json
from stackmesh_inference.batches.store import BatchRecord, BatchRepository
from stackmesh_inference.batches.validation import parse_lines
from stackmesh_inference.settings import BatchSettings

log = logging.getLogger("stackmesh.inference.batches")

# A request the inference service could not take (restarting, overloaded) is retried this
# many times within one attempt before the attempt fails and the job backs off.
REQUEST_RETRIES = 3
PEER_TIMEOUT_S = 60.0


def _request_types(endpoint: str) -> tuple[type, str]:
    return {
        "/v1/chat/completions": (inference_pb.CreateChatCompletionRequest, "chat_completion"),
        "/v1/completions": (inference_pb.CreateCompletionRequest, "completion"),
        "/v1/embeddings": (inference_pb.CreateEmbeddingsRequest, "embeddings"),
    }[endpoint]


def _usage(reply: dict[str, Any]) -> tuple[int, int]:
    usage = reply.get("usage") or {}
    return int(usage.get("prompt_tokens", 0) or 0), int(usage.get("completion_tokens", 0) or 0)


class BatchHandler:
    payload_type = pb.BatchJob

    def __init__(self, batches: BatchRepository, peers: Peers, settings: BatchSettings) -> None:
        self.batches = batches
        self.peers = peers
        self.settings = settings

    async def run(self, job: JobContext) -> dict[str, Any] | None:
        batch = await self.batches.get(job.payload.batch_id)
        if batch.status == "validating":
            await self._validate(batch)
            batch = await self.batches.get(batch.id)
        if batch.status == "failed":
            return None
        if batch.status in ("in_progress", "cancelling") and not job.cancel_requested.is_set():
            await self._send_requests(job, batch)
        return await self._finalize(job, await self.batches.get(batch.id))

    async def _validate(self, batch: BatchRecord) -> None:
        try:
            file = await self.peers.files.get(batch.input_file_id, timeout_s=PEER_TIMEOUT_S, refused_as=InvalidArgument, param="input_file_id")
            if file.bytes > self.settings.max_input_bytes:
                raise InvalidArgument(f"the input file has {file.bytes} bytes; a batch takes at most {self.settings.max_input_bytes}", param="input_file_id")
            data = await self.peers.files.read(batch.input_file_id, timeout_s=PEER_TIMEOUT_S, refused_as=InvalidArgument, param="input_file_id")
            lines, model = await parse_lines(data, batch.endpoint, self.settings.max_requests, self._model_exists)
        except InvalidArgument as exc:
            # The input cannot be a batch at all: OpenAI's failed batch with `errors`.
            errors = [{"code": "invalid_input_file", "message": exc.message, "param": exc.param, "line": None}]
            await self.batches.set_status(batch.id, "failed", only_from=("validating",), errors=errors)
            return
        await self.batches.add_lines(batch.id, lines, model)

    async def _model_exists(self, model: str) -> bool:
        return await self.peers.inference.get_model(model, timeout_s=PEER_TIMEOUT_S) is not None

    async def _send_requests(self, job: JobContext, batch: BatchRecord) -> None:
        pending = await self.batches.pending(batch.id)
        counts = (await self.batches.counts([batch.id])).get(batch.id)
        done = (counts.completed + counts.failed) if counts else 0
        total = counts.total if counts else len(pending)
        await job.progress(done, total, "requests", force=True)
        queue: asyncio.Queue[tuple[int, str, dict[str, Any]]] = asyncio.Queue()
        for item in pending:
            queue.put_nowait(item)
        finished = 0

        async def sender() -> None:
            nonlocal finished
            # No request starts once a cancel arrived or the window closed.
            while not queue.empty() and not job.cancel_requested.is_set() and time.time() < batch.expires_at:
                line, custom_id, body = queue.get_nowait()
                await self._send(batch, line, custom_id, body)
                finished += 1
                await job.progress(done + finished)

        senders = [asyncio.create_task(sender()) for _ in range(min(self.settings.requests_in_flight, len(pending)) or 1)]
        sending = asyncio.gather(*senders)
        cancelled = asyncio.create_task(job.cancel_requested.wait())
        # All sent, one failed, or a cancel: a cancel stops the requests in flight at once
        # (their lines stay pending), a failure stops the others.
        await asyncio.wait([cancelled, sending], return_when=asyncio.FIRST_COMPLETED)
        cancelled.cancel()
        for task in senders:
            task.cancel()
        results = await asyncio.gather(*senders, return_exceptions=True)
        if sending.done() and not sending.cancelled():
            sending.exception()  # seen through `results` below
        # Senders write progress concurrently and throttled: the last word is the true count.
        await job.progress(done + finished, force=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result

    async def _send(self, batch: BatchRecord, line: int, custom_id: str, body: dict[str, Any]) -> None:
        request_type, method = _request_types(batch.endpoint)
        request_id = f"batch_req_{uuid.uuid4().hex}"
        try:
            request = from_json(body, request_type)
        except json_format.ParseError as exc:
            refusal = InvalidArgument(f"invalid request body: {exc}", reason="invalid_body")
            await self._record(batch, line, custom_id, request_id, refusal.http_status, {"error": refusal.openai_error()})
            return
        for attempt in range(REQUEST_RETRIES + 1):
            try:
                reply = await getattr(self.peers.inference, method)(request, timeout_s=self.settings.request_timeout_s)
                break
            except (Unavailable, DeadlineExceeded):
                if attempt == REQUEST_RETRIES:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)
            except StackmeshError as exc:
                await self._record(batch, line, custom_id, request_id, exc.http_status, {"error": exc.openai_error()})
                return
        await self._record(batch, line, custom_id, request_id, 200, to_json(reply))

    async def _record(self, batch: BatchRecord, line: int, custom_id: str, request_id: str, status: int, body: dict[str, Any]) -> None:
        tokens = _usage(body) if status == 200 else (0, 0)
        result = {"response": {"status_code": status, "request_id": request_id, "body": body}, "error": None}
        await self.batches.finish_line(batch.id, line, "completed" if status == 200 else "failed", result, *tokens)

    async def _finalize(self, job: JobContext, batch: BatchRecord) -> dict[str, Any]:
        cancelled = job.cancel_requested.is_set() or batch.status == "cancelling"
        expired = not cancelled and time.time() >= batch.expires_at
        if batch.status in ("in_progress", "finalizing"):
            await self.batches.set_status(batch.id, "finalizing", only_from=("in_progress",))
        if expired:
            await self.batches.abandon_pending(batch.id, "batch_expired", "the batch expired before this request ran")
        elif cancelled:
            await self.batches.abandon_pending(batch.id, "batch_cancelled", "the batch was cancelled before this request ran")
        batch = await self.batches.get(batch.id)
        files: dict[str, Any] = {}
        if batch.output_file_id is None:
            files["output_file_id"] = await self._upload(batch, "completed", "output")
        if batch.error_file_id is None:
            files["error_file_id"] = await self._upload(batch, "failed", "error")
        final = "cancelled" if cancelled else "expired" if expired else "completed"
        await self.batches.set_status(batch.id, final, **{k: v for k, v in files.items() if v})
        batch = await self.batches.get(batch.id)
        return {"output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id, "status": batch.status}

    async def _upload(self, batch: BatchRecord, status: str, name: str) -> str | None:
        results = await self.batches.results(batch.id, status)
        if not results:
            return None
        lines = []
        for custom_id, result in results:
            request_id = ((result.get("response") or {}).get("request_id") or "").removeprefix("batch_req_")
            lines.append(json.dumps({"id": f"batch_req_{request_id or uuid.uuid4().hex}", "custom_id": custom_id, **result}))
        data = ("\n".join(lines) + "\n").encode()
        file = await self.peers.files.upload(
            f"{batch.id}_{name}.jsonl", "batch_output", data, content_type="application/jsonl", timeout_s=PEER_TIMEOUT_S
        )
        # Recorded at once, so a redelivered batch does not upload it again.
        await self.batches.record_file(batch.id, f"{name}_file_id", file.id)
        return file.id

    async def failed(self, job: JobContext, error: BaseException) -> None:
        message = error.message if isinstance(error, StackmeshError) else str(error)
        errors = [{"code": "batch_failed", "message": f"the batch failed: {message}", "param": None, "line": None}]
        await self.batches.set_status(job.payload.batch_id, "failed", errors=errors)

    async def cancelled_unstarted(self, record: JobRecord) -> None:
        await self.batches.set_status(record.unpack(pb.BatchJob).batch_id, "cancelled")
