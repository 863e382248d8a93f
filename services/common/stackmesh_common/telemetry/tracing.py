"""OpenTelemetry traces across the mesh.

The gateway starts a trace or continues the caller's (W3C `traceparent`); the server
interceptor continues it for each call, peer calls carry it on in gRPC metadata, and job
messages in NATS headers, so a worker's spans join the request that queued the job. Spans go
to an OTLP collector when `telemetry.traces.otlp_endpoint` is set, and to a JSON-lines file
per process when `telemetry.traces.directory` is (read back by `stackmesh traces`).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import deque
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from stackmesh_common.config import StackConfig

TRACEPARENT = "traceparent"
# A span file is started over (the old one kept as .1) past this size.
MAX_FILE_BYTES = 32 * 1024 * 1024
# Spans wait at most this long for their file (`stackmesh traces` shows a request right after it).
WRITE_INTERVAL_S = 1.0
# Spans written per slice; the event loop runs other work between slices.
WRITE_SLICE = 128
# Spans held for the file at most; past it the oldest are dropped (a stalled disk).
MAX_QUEUED_SPANS = 65536

_propagator = TraceContextTextMapPropagator()
tracer = trace.get_tracer("stackmesh")
# Whether this process records spans (set by setup).
enabled = False


def extract(carrier: Mapping[str, str]) -> Context:
    """The trace context a caller sent (gRPC metadata, NATS headers); empty when none."""
    return _propagator.extract(carrier)


def unsampled(context: Context) -> bool:
    """Whether `context` continues a trace its caller chose not to record."""
    parent = trace.get_current_span(context).get_span_context()
    return parent.is_valid and not parent.trace_flags.sampled


def inject(carrier: MutableMapping[str, str]) -> None:
    """Adds the current span's context to outgoing metadata or headers."""
    _propagator.inject(carrier)


def span_record(span: ReadableSpan) -> dict[str, object]:
    """One span as a flat JSON object (what the files hold and `stackmesh traces` reads)."""
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


class JsonLinesExporter(SpanExporter):
    """Appends finished spans to one file per process, one JSON object per line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(span), default=str) + "\n" for span in spans)
        with self._lock:
            if self.path.exists() and self.path.stat().st_size > MAX_FILE_BYTES:
                os.replace(self.path, self.path.with_suffix(".jsonl.1"))
            with self.path.open("a") as out:
                out.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class LoopSpanWriter(SpanProcessor):
    """Writes finished spans to the process's span file from its event loop: ending a span only
    queues it, and `run` writes the queue every second, a slice at a time. The SDK's
    BatchSpanProcessor does this work in a thread of its own, which contends with the event
    loop for the GIL on a busy service (bench/telemetry.py measures what spans cost)."""

    def __init__(self, exporter: JsonLinesExporter) -> None:
        self.exporter = exporter
        self._queue: deque[ReadableSpan] = deque(maxlen=MAX_QUEUED_SPANS)

    def on_end(self, span: ReadableSpan) -> None:
        self._queue.append(span)  # deque appends are atomic: spans may end in any thread

    async def run(self) -> None:
        while True:
            await asyncio.sleep(WRITE_INTERVAL_S)
            while self._queue:
                self._write_slice()
                await asyncio.sleep(0)

    def _write_slice(self) -> None:
        batch = [self._queue.popleft() for _ in range(min(WRITE_SLICE, len(self._queue)))]
        self.exporter.export(batch)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        while self._queue:
            self._write_slice()
        return True

    def shutdown(self) -> None:
        self.force_flush()


# The span file's writer of this process, whose `run` the service kit keeps going.
file_writer: LoopSpanWriter | None = None


def setup(config: StackConfig, process: str) -> TracerProvider | None:
    """Installs the process's tracer provider; None when traces are off or go nowhere."""
    traces = config.telemetry.traces
    if not traces.enabled or not (traces.otlp_endpoint or traces.directory):
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"stackmesh-{process.split('-worker')[0]}", "service.instance.id": process}),
        sampler=ParentBased(TraceIdRatioBased(traces.sample_ratio)),
    )
    global enabled, file_writer
    if traces.directory:
        file_writer = LoopSpanWriter(JsonLinesExporter(config.state_path(traces.directory) / f"{process}-{os.getpid()}.jsonl"))
        provider.add_span_processor(file_writer)
    if traces.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces.otlp_endpoint, insecure=True)))
    trace.set_tracer_provider(provider)
    enabled = True
    return provider
