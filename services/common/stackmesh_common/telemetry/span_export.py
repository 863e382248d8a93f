"""Where a process's finished spans go: a JSON-lines file (read back by `stackmesh traces`)
and/or an OTLP collector, written from the event loop a second at a time.

Served calls' spans arrive as `CallRecord` tuples (tracing.begin_call), the few others (a job
run) as SDK spans. The SDK's BatchSpanProcessor and OTLP exporter would cost ~70 us of CPU per
span on a service and contend with the event loop for the GIL from their own thread
(bench/telemetry_calls.py); here a span costs ~12 us to encode, and only the send waits in a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import grpc
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ResourceProto
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, SpanFlags, Status
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from stackmesh_common.config import otlp_collector_address

log = logging.getLogger("stackmesh.traces")

# A served call's span: (method, trace id, span id, parent span id or 0, start ns, end ns, gRPC
# status code name). A tuple, not an SDK span: there is one per call on every service.
CallRecord = tuple[str, int, int, int, int, int, str]
STATUS_CODE_ATTRIBUTE = "rpc.grpc.status_code"

# Spans wait at most this long to be written (`stackmesh traces` shows a request right after it).
WRITE_INTERVAL_S = 1.0
# Spans encoded and sent at a time; the event loop runs other work between slices.
WRITE_SLICE = 128
# Spans held at most; past it the oldest are dropped (a stalled disk, an unreachable collector).
MAX_QUEUED_SPANS = 65536
# A span file is started over (the old one kept as .1) past this size.
MAX_FILE_BYTES = 32 * 1024 * 1024
# Time an OTLP export may take before its spans are dropped.
EXPORT_TIMEOUT_S = 5.0
# Failed writes are logged at most this often.
WARN_INTERVAL_S = 60.0


def failed(code: str) -> bool:
    """Whether a call that ended with `code` failed (a caller going away is not the service's error)."""
    return code not in ("OK", "CANCELLED")


def span_record(span: ReadableSpan) -> dict[str, object]:
    """One SDK span as a flat JSON object (what the files hold and `stackmesh traces` reads)."""
    context = span.get_span_context()
    return {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "name": span.name,
        "kind": span.kind.name.lower(),
        "service": span.resource.attributes.get("service.name", ""),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


class SpanSink(Protocol):
    """A destination of spans: `encode` runs on the event loop, `send` in a thread."""

    name: str

    def encode(self, spans: Sequence[ReadableSpan | CallRecord]) -> Any: ...

    def send(self, payload: Any) -> None: ...


class SpanFile:
    """One JSON-lines file of spans per process."""

    name = "span file"

    def __init__(self, path: Path, service: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._service = json.dumps(service)
        self._lock = threading.Lock()  # the loop's writes and a shutdown's, one at a time

    def encode(self, spans: Sequence[ReadableSpan | CallRecord]) -> str:
        return "".join(map(self._line, spans))

    def _line(self, span: ReadableSpan | CallRecord) -> str:
        if not isinstance(span, tuple):
            return json.dumps(span_record(span), default=str) + "\n"
        name, trace_id, span_id, parent_id, start_ns, end_ns, code = span
        # Formatted directly: json.dumps of a dict per call was a fifth of a span's cost.
        parent = f'"{parent_id:016x}"' if parent_id else "null"
        return (
            f'{{"trace_id": "{trace_id:032x}", "span_id": "{span_id:016x}", "parent_id": {parent}, "name": {json.dumps(name)}, '
            f'"kind": "server", "service": {self._service}, "start_ns": {start_ns}, "end_ns": {end_ns}, '
            f'"status": "{"ERROR" if failed(code) else "UNSET"}", "attributes": {{"{STATUS_CODE_ATTRIBUTE}": "{code}"}}}}\n'
        )

    def send(self, lines: str) -> None:
        with self._lock:
            if self.path.exists() and self.path.stat().st_size > MAX_FILE_BYTES:
                os.replace(self.path, self.path.with_suffix(".jsonl.1"))
            with self.path.open("a") as out:
                out.write(lines)


def _key_value(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


class OtlpCollector:
    """An OpenTelemetry collector's OTLP/gRPC trace endpoint (http:// plain, https:// TLS)."""

    name = "OTLP collector"

    def __init__(self, endpoint: str, resource: Resource) -> None:
        host, port, tls = otlp_collector_address(endpoint)
        target = f"{host}:{port}"
        channel = grpc.secure_channel(target, grpc.ssl_channel_credentials()) if tls else grpc.insecure_channel(target)
        self._export = TraceServiceStub(channel).Export
        self._resource = ResourceProto(attributes=[_key_value(k, v) for k, v in resource.attributes.items()])
        self._scope = InstrumentationScope(name="stackmesh")

    def encode(self, spans: Sequence[ReadableSpan | CallRecord]) -> ExportTraceServiceRequest:
        calls = [span for span in spans if isinstance(span, tuple)]
        others = [span for span in spans if not isinstance(span, tuple)]
        request = encode_spans(others) if others else ExportTraceServiceRequest()
        if calls:
            served = ScopeSpans(scope=self._scope, spans=[self._span(call) for call in calls])
            request.resource_spans.append(ResourceSpans(resource=self._resource, scope_spans=[served]))
        return request

    @staticmethod
    def _span(call: CallRecord) -> Span:
        name, trace_id, span_id, parent_id, start_ns, end_ns, code = call
        return Span(
            trace_id=trace_id.to_bytes(16, "big"),
            span_id=span_id.to_bytes(8, "big"),
            parent_span_id=parent_id.to_bytes(8, "big") if parent_id else b"",
            # The parent is the caller's, in another process (or none).
            flags=SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | (SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK if parent_id else 0),
            name=name,
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=start_ns,
            end_time_unix_nano=end_ns,
            attributes=[KeyValue(key=STATUS_CODE_ATTRIBUTE, value=AnyValue(string_value=code))],
            status=Status(code=Status.STATUS_CODE_ERROR if failed(code) else Status.STATUS_CODE_UNSET),
        )

    def send(self, request: ExportTraceServiceRequest) -> None:
        self._export(request, timeout=EXPORT_TIMEOUT_S)


class LoopSpanWriter(SpanProcessor):
    """Writes finished spans to a sink from the process's event loop: ending a span only
    queues it, and `run` encodes the queue every second, a slice at a time, each sent from a
    thread. A sink that fails loses that slice (logged), never the service's loop."""

    def __init__(self, sink: SpanSink) -> None:
        self.sink = sink
        self._queue: deque[ReadableSpan | CallRecord] = deque(maxlen=MAX_QUEUED_SPANS)
        self._lock = threading.Lock()
        self._warned = 0.0

    def on_end(self, span: ReadableSpan) -> None:
        self._queue.append(span)  # deque appends are atomic: spans may end in any thread

    def record_call(self, call: CallRecord) -> None:
        self._queue.append(call)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(WRITE_INTERVAL_S)
            while self._queue:
                batch = self._take()
                payload = self.sink.encode(batch)
                await asyncio.to_thread(self._send, payload, len(batch))

    def _take(self) -> list[ReadableSpan | CallRecord]:
        with self._lock:
            return [self._queue.popleft() for _ in range(min(WRITE_SLICE, len(self._queue)))]

    def _send(self, payload: Any, count: int) -> bool:
        try:
            self.sink.send(payload)
            return True
        except (OSError, grpc.RpcError) as exc:
            if time.monotonic() - self._warned > WARN_INTERVAL_S:
                self._warned = time.monotonic()
                # A stub call's RpcError is also a grpc.Call, with the status code.
                reason = exc.strerror if isinstance(exc, OSError) else exc.code().name
                log.warning("%d spans not written to the %s: %s", count, self.sink.name, reason)
            return False

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        while self._queue:
            batch = self._take()
            if not self._send(self.sink.encode(batch), len(batch)):
                # At shutdown a dead sink would hold the process EXPORT_TIMEOUT_S per slice.
                log.warning("%d spans dropped at shutdown", len(self._queue))
                self._queue.clear()
                return False
        return True

    def shutdown(self) -> None:
        self.force_flush()
