"""The span file writer: spans ended anywhere in the process reach its JSON-lines file from the
event loop within a second, and whatever is left is written at shutdown."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from stackmesh_common.telemetry.span_export import WRITE_INTERVAL_S, WRITE_SLICE, LoopSpanWriter, SpanFile


def _provider(path: Path) -> tuple[TracerProvider, LoopSpanWriter]:
    provider = TracerProvider(resource=Resource.create({"service.name": "stackmesh-test"}))
    writer = LoopSpanWriter(SpanFile(path, "stackmesh-test"))
    provider.add_span_processor(writer)
    return provider, writer


def _written(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_spans_reach_the_file_from_the_loop_within_a_second_in_slices(tmp_path):
    path = tmp_path / "spans.jsonl"
    provider, writer = _provider(path)
    tracer = provider.get_tracer("test")
    count = 3 * WRITE_SLICE + 5
    for n in range(count - 1):
        tracer.start_span(f"call {n}").end()
    # A span ended in another thread (a worker's to_thread work) is queued the same way.
    other = threading.Thread(target=lambda: tracer.start_span("from a thread").end())
    other.start()
    other.join()
    assert _written(path) == []  # ending a span writes nothing on the spot
    task = asyncio.create_task(writer.run())
    try:
        await asyncio.sleep(WRITE_INTERVAL_S + 0.5)
        spans = _written(path)
    finally:
        task.cancel()
    assert [s["name"] for s in spans] == [f"call {n}" for n in range(count - 1)] + ["from a thread"]
    assert {s["service"] for s in spans} == {"stackmesh-test"} and all(len(s["trace_id"]) == 32 for s in spans)


def test_shutdown_writes_what_is_still_queued(tmp_path):
    path = tmp_path / "spans.jsonl"
    provider, _ = _provider(path)
    provider.get_tracer("test").start_span("last words").end()
    provider.shutdown()
    assert [s["name"] for s in _written(path)] == ["last words"]
