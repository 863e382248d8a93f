"""OpenTelemetry traces across the mesh.

The gateway starts a trace or continues the caller's (W3C `traceparent`); the server
interceptor continues it for each call, peer calls carry it on in gRPC metadata, and job
messages in NATS headers, so a worker's spans join the request that queued the job. Spans go
to an OTLP collector when `telemetry.traces.otlp_endpoint` is set, and to a JSON-lines file
per process when `telemetry.traces.directory` is (read back by `stackmesh traces`); see
span_export.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, MutableMapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from stackmesh_common.config import StackConfig
from stackmesh_common.telemetry.span_export import CallRecord, LoopSpanWriter, OtlpCollector, SpanFile

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

_propagator = TraceContextTextMapPropagator()
tracer = trace.get_tracer("stackmesh")
_ids = RandomIdGenerator()


def extract(carrier: Mapping[str, str]) -> Context:
    """The trace context a caller sent (gRPC metadata, NATS headers); empty when none."""
    return _propagator.extract(carrier)


def inject(carrier: MutableMapping[str, str]) -> None:
    """Adds the current span's context to outgoing metadata or headers."""
    _propagator.inject(carrier)


class Traces:
    """A process's traces: its SDK provider (spans of job runs and the like), the writers its
    event loop runs, and the sampling of new traces by served calls (the SDK's
    ParentBased(TraceIdRatioBased) decision, made without building an SDK span)."""

    def __init__(self, provider: TracerProvider, sample_ratio: float, writers: list[LoopSpanWriter]) -> None:
        self.provider = provider
        self.writers = writers
        self._bound = TraceIdRatioBased.get_bound_for_rate(sample_ratio)
        for writer in writers:
            provider.add_span_processor(writer)

    def samples(self, trace_id: int) -> bool:
        return trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < self._bound

    def record(self, call: CallRecord) -> None:
        for writer in self.writers:
            writer.record_call(call)


# This process's traces once setup installed them.
_traces: Traces | None = None

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


def _remote_parent(metadata: Mapping[str, str]) -> SpanContext | None:
    """The caller's span from a W3C `traceparent` (and `tracestate`); None when absent or invalid."""
    header = metadata.get(TRACEPARENT)
    match = _TRACEPARENT.fullmatch(header.strip()) if header else None
    if match is None:
        return None
    version, trace_hex, span_hex, flags, rest = match.groups()
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if version == "ff" or (version == "00" and rest) or not trace_id or not span_id:
        return None
    state = metadata.get(TRACESTATE)
    return SpanContext(
        trace_id,
        span_id,
        is_remote=True,
        trace_flags=TraceFlags(int(flags, 16) & TraceFlags.SAMPLED),
        trace_state=TraceState.from_header([state]) if state else None,
    )


class ServedCall:
    """The trace of one served call: its context is current while the call runs (peer calls,
    job messages and log lines carry it), and it is recorded as a span when sampled."""

    __slots__ = ("name", "context", "parent_id", "start_ns", "token")

    def __init__(self, name: str, context: SpanContext, parent_id: int, token: object) -> None:
        self.name, self.context, self.parent_id, self.token = name, context, parent_id, token
        self.start_ns = time.time_ns()

    def end(self, code: str) -> None:
        """Records the span (when sampled) with the call's gRPC status code name."""
        otel_context.detach(self.token)
        if self.context.trace_flags.sampled and _traces is not None:
            _traces.record((self.name, self.context.trace_id, self.context.span_id, self.parent_id, self.start_ns, time.time_ns(), code))


def begin_call(name: str, metadata: Mapping[str, str]) -> ServedCall | None:
    """Continues the caller's trace (or starts one) for a served call; None when traces are off.

    Served calls are the mesh's hottest path, so their spans skip the SDK's span objects:
    sampling, ids and context follow OpenTelemetry, and the span is recorded as a tuple."""
    if _traces is None:
        return None
    parent = _remote_parent(metadata)
    if parent is None:
        trace_id, parent_id, state = _ids.generate_trace_id(), 0, None
        sampled = _traces.samples(trace_id)
    else:
        trace_id, parent_id, state = parent.trace_id, parent.span_id, parent.trace_state
        sampled = parent.trace_flags.sampled
    context = SpanContext(
        trace_id, _ids.generate_span_id(), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else 0), trace_state=state
    )
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(context)))
    return ServedCall(name, context, parent_id, token)


def setup(config: StackConfig, process: str) -> Traces | None:
    """Installs the process's traces; None when they are off or go nowhere. The caller runs
    each of `writers`' `run` on its event loop and shuts the provider down at exit."""
    settings = config.telemetry.traces
    if not settings.enabled or not (settings.otlp_endpoint or settings.directory):
        return None
    service = f"stackmesh-{process.split('-worker')[0]}"
    resource = Resource.create({"service.name": service, "service.instance.id": process})
    writers = []
    if settings.directory:
        writers.append(LoopSpanWriter(SpanFile(config.state_path(settings.directory) / f"{process}-{os.getpid()}.jsonl", service)))
    if settings.otlp_endpoint:
        writers.append(LoopSpanWriter(OtlpCollector(settings.otlp_endpoint, resource)))
    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)))
    traces = Traces(provider, settings.sample_ratio, writers)
    trace.set_tracer_provider(provider)
    global _traces
    _traces = traces
    return traces
