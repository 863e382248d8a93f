"""Served calls' spans (tracing.begin_call): they continue the caller's W3C trace or start one as
the sampler says, carry their context to peer calls while the call runs, and reach the span file
and a real OTLP gRPC receiver in the shape the SDK's own spans have."""

from __future__ import annotations

import json
import os
import time
from concurrent import futures

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from stackmesh_common.config import ConfigError
from stackmesh_common.telemetry import tracing
from stackmesh_common.telemetry.span_export import LoopSpanWriter, OtlpCollector, SpanFile, SpanSink

METHOD = "/stackmesh.inference.v1.ModelsService/ListModels"
RESOURCE = Resource.create({"service.name": "stackmesh-test"})


@pytest.fixture
def recorder(tmp_path, monkeypatch):
    """Traces on at ratio 1 with a span file, as tracing.setup installs them (without making the
    SDK provider this process's global one)."""

    def install(sample_ratio: float = 1.0, sink: SpanSink | None = None) -> tracing.Traces:
        provider = TracerProvider(resource=RESOURCE)
        made = tracing.Traces(provider, sample_ratio, [LoopSpanWriter(sink or SpanFile(tmp_path / "spans.jsonl", "stackmesh-test"))])
        monkeypatch.setattr(tracing, "_traces", made)
        return made

    return install


def _written(made: tracing.Traces) -> list[dict]:
    [writer] = made.writers
    writer.force_flush()
    path = writer.sink.path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _caller(sampled: bool = True) -> tuple[str, str, dict[str, str]]:
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    return trace_id, span_id, {"traceparent": f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"}


def _outgoing() -> dict[str, str]:
    carrier: dict[str, str] = {}
    tracing.inject(carrier)
    return carrier


def test_without_traces_a_call_has_none(monkeypatch):
    monkeypatch.setattr(tracing, "_traces", None)
    assert tracing.begin_call(METHOD, _caller()[2]) is None


def test_a_call_continues_its_callers_sampled_trace_and_is_written_as_a_span(recorder):
    made = recorder(sample_ratio=0.0)  # a caller's sampled flag wins over the ratio
    trace_id, parent_id, metadata = _caller()
    call = tracing.begin_call(METHOD, metadata)
    current = trace.get_current_span().get_span_context()
    assert f"{current.trace_id:032x}" == trace_id and f"{current.span_id:016x}" != parent_id
    # A peer call made while serving carries this call's span as its parent.
    assert _outgoing()["traceparent"] == f"00-{trace_id}-{current.span_id:016x}-01"
    call.end("NOT_FOUND")
    assert not trace.get_current_span().get_span_context().is_valid  # the call's context is gone
    [span] = _written(made)
    assert span == {
        "trace_id": trace_id,
        "span_id": f"{current.span_id:016x}",
        "parent_id": parent_id,
        "name": METHOD,
        "kind": "server",
        "service": "stackmesh-test",
        "start_ns": span["start_ns"],
        "end_ns": span["end_ns"],
        "status": "ERROR",
        "attributes": {"rpc.grpc.status_code": "NOT_FOUND"},
    }
    assert 0 < span["end_ns"] - span["start_ns"] < 10**9


@pytest.mark.parametrize("code, status", [("OK", "UNSET"), ("CANCELLED", "UNSET"), ("INTERNAL", "ERROR")])
def test_a_span_is_an_error_unless_the_call_succeeded_or_its_caller_left(recorder, code, status):
    made = recorder()
    tracing.begin_call(METHOD, {}).end(code)
    assert [s["status"] for s in _written(made)] == [status]


def test_an_unsampled_caller_trace_is_carried_on_but_not_recorded(recorder):
    made = recorder()
    trace_id, _, metadata = _caller(sampled=False)
    call = tracing.begin_call(METHOD, metadata)
    assert _outgoing()["traceparent"].startswith(f"00-{trace_id}-") and _outgoing()["traceparent"].endswith("-00")
    call.end("OK")
    assert _written(made) == []


def test_the_callers_tracestate_is_carried_on(recorder):
    recorder()
    call = tracing.begin_call(METHOD, {**_caller()[2], "tracestate": "vendor=abc,other=1"})
    assert _outgoing()["tracestate"] == "vendor=abc,other=1"
    call.end("OK")


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-" + "0" * 32 + "-" + "1" * 16 + "-01",  # an all-zero trace id
        "00-" + "a" * 32 + "-" + "0" * 16 + "-01",  # an all-zero parent id
        "ff-" + "a" * 32 + "-" + "1" * 16 + "-01",  # the version W3C forbids
        "00-" + "a" * 32 + "-" + "1" * 16 + "-01-extra",  # version 00 has exactly four fields
        "00-" + "A" * 32 + "-" + "1" * 16 + "-01",  # upper-case hex
        "00-" + "a" * 31 + "-" + "1" * 16 + "-01",
        "not a traceparent",
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(recorder, traceparent):
    made = recorder()
    tracing.begin_call(METHOD, {"traceparent": traceparent}).end("OK")
    [span] = _written(made)
    assert span["parent_id"] is None and span["trace_id"] not in traceparent


def test_a_later_version_may_add_fields(recorder):
    made = recorder()
    trace_id, parent_id, _ = _caller()
    tracing.begin_call(METHOD, {"traceparent": f"01-{trace_id}-{parent_id}-01-future"}).end("OK")
    assert [(s["trace_id"], s["parent_id"]) for s in _written(made)] == [(trace_id, parent_id)]


@pytest.mark.parametrize("ratio, low, high", [(0.0, 0, 0), (0.25, 150, 350), (1.0, 1000, 1000)])
def test_new_traces_are_recorded_at_the_sample_ratio(recorder, ratio, low, high):
    made = recorder(sample_ratio=ratio)
    for _ in range(1000):
        tracing.begin_call(METHOD, {}).end("OK")
    written = _written(made)
    assert low <= len(written) <= high and all(s["parent_id"] is None for s in written)


class _Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace receiver: keeps what exporters send."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request, context):  # noqa: N802 (the OTLP service's name)
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def receiver():
    """A real OTLP/gRPC receiver on a free port: (its endpoint, what it got)."""
    got = _Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(got, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"http://127.0.0.1:{port}", got
    server.stop(None)


def test_served_calls_and_sdk_spans_reach_an_otlp_collector(recorder, receiver):
    endpoint, got = receiver
    made = recorder(sink=OtlpCollector(endpoint, RESOURCE))
    trace_id, parent_id, metadata = _caller()
    call = tracing.begin_call(METHOD, metadata)
    # A span of the SDK's (a job run's) made while serving the call: its child.
    made.provider.get_tracer("test").start_span("job file_ingestion", kind=trace.SpanKind.CONSUMER).end()
    call.end("UNAVAILABLE")
    assert made.writers[0].force_flush()
    resources = [r for request in got.requests for r in request.resource_spans]
    assert {a.key: a.value.string_value for r in resources for a in r.resource.attributes}["service.name"] == "stackmesh-test"
    spans = {s.name: s for r in resources for scope in r.scope_spans for s in scope.spans}
    served, job = spans[METHOD], spans["job file_ingestion"]
    assert served.trace_id.hex() == trace_id and served.parent_span_id.hex() == parent_id
    assert served.span_id == call.context.span_id.to_bytes(8, "big")
    assert served.kind == served.SPAN_KIND_SERVER and served.status.code == served.status.STATUS_CODE_ERROR
    assert {a.key: a.value.string_value for a in served.attributes} == {"rpc.grpc.status_code": "UNAVAILABLE"}
    assert served.end_time_unix_nano > served.start_time_unix_nano
    assert job.trace_id.hex() == trace_id and job.parent_span_id == served.span_id and job.kind == job.SPAN_KIND_CONSUMER


def test_an_unreachable_collector_costs_a_warning_not_the_service(recorder, caplog):
    made = recorder(sink=OtlpCollector("http://127.0.0.1:9", RESOURCE))  # nothing listens on port 9
    for _ in range(300):
        tracing.begin_call(METHOD, {}).end("OK")
    started = time.monotonic()
    assert made.writers[0].force_flush() is False  # gives up at the first failed slice
    assert time.monotonic() - started < 5
    assert "spans not written to the OTLP collector: UNAVAILABLE" in caplog.text
    assert "spans dropped at shutdown" in caplog.text


def test_an_otlp_endpoint_must_name_a_host():
    with pytest.raises(ConfigError, match="otlp_endpoint"):
        OtlpCollector("grpc://", RESOURCE)
