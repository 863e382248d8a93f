"""Metrics and traces of the session stack: each process serves /metrics on the port that
`stackmesh status` lists, and a request's trace runs from the gateway through services, peer
calls and the job it queued (read back with `stackmesh traces`)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import CHAT_MODEL
from tests.support.metrics import listed_by_status, sample, scrape


def stackmesh(stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "stackmesh_launcher", *args, "--state-dir", str(stack.state_dir)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def metrics_urls(stack) -> dict[str, str]:
    """Component -> its metrics URL, as `stackmesh status` prints them."""
    return {name: url for name, (_, url) in listed_by_status(stack).items()}


def test_status_lists_a_metrics_endpoint_for_every_service_and_the_gateway(stack, metrics_urls):
    assert set(stack.config.services) | {"gateway"} <= set(metrics_urls), metrics_urls
    for name in stack.config.services:
        text = scrape(metrics_urls[name])
        assert "stackmesh_rpc_calls_total" in text and "stackmesh_db_pool_connections" in text, name
    gateway = scrape(metrics_urls["gateway"])
    assert re.search(r"^envoy_", gateway, re.MULTILINE) and "envoy_cluster_upstream_rq" in gateway


def test_the_gateway_metrics_port_serves_only_metrics(stack, metrics_urls):
    """Envoy's stats at the gateway's metrics port, never the rest of its admin API."""
    url = metrics_urls["gateway"]
    assert url.endswith(f":{stack.config.gateway.metrics_port}/metrics"), url
    assert stack.config.gateway.metrics_port not in {stack.config.gateway.port, stack.config.gateway.admin_port}
    origin = url.removesuffix("/metrics")
    for method, path in (("POST", "/quitquitquit"), ("GET", "/stats"), ("GET", "/stats/prometheus"), ("GET", "/config_dump"),
                         ("GET", "/metrics/../config_dump"), ("GET", "/metrics/"), ("POST", "/metrics")):  # fmt: skip
        answer = httpx.request(method, f"{origin}{path}", timeout=10)
        assert answer.status_code == 404, (method, path, answer.status_code)
    # Envoy still runs.
    assert httpx.get(f"{stack.gateway_url}/healthz", timeout=10).status_code == 200


def test_a_chat_counts_calls_latency_and_tokens(client, metrics_urls):
    method = "/stackmesh.inference.v1.InferenceService/CreateChatCompletion"
    before = scrape(metrics_urls["inference"])
    answer = client.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "Say hi."}], max_tokens=8)
    after = scrape(metrics_urls["inference"])
    assert sample(after, "stackmesh_rpc_calls_total", method=method, code="OK") == sample(before, "stackmesh_rpc_calls_total", method=method, code="OK") + 1
    assert sample(after, "stackmesh_rpc_duration_seconds_count", method=method) >= sample(before, "stackmesh_rpc_duration_seconds_count", method=method) + 1
    for direction, spent in (("prompt", answer.usage.prompt_tokens), ("completion", answer.usage.completion_tokens)):
        grew = sample(after, "stackmesh_tokens_total", model=CHAT_MODEL, direction=direction) - sample(
            before, "stackmesh_tokens_total", model=CHAT_MODEL, direction=direction
        )
        assert grew == spent
    assert sample(after, "stackmesh_generation_tokens_per_second_count", model=CHAT_MODEL) >= 1


def test_errors_are_counted_by_their_code(stack, metrics_urls):
    method = "/stackmesh.inference.v1.ModelsService/GetModel"
    before = sample(scrape(metrics_urls["inference"]), "stackmesh_rpc_calls_total", method=method, code="NOT_FOUND")
    assert httpx.get(f"{stack.gateway_url}/v1/models/no-such-model", timeout=30).status_code == 404
    assert sample(scrape(metrics_urls["inference"]), "stackmesh_rpc_calls_total", method=method, code="NOT_FOUND") == before + 1


def test_job_states_are_gauges_by_kind(client, metrics_urls):
    store = client.vector_stores.create(name="metrics")
    file = client.files.create(file=("m.txt", io.BytesIO(b"Metrics count jobs."), "text/plain"), purpose="assistants")
    client.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=file.id)
    deadline = time.monotonic() + 15
    while not re.search(r'^stackmesh_jobs\{kind="[^"]+",state="completed"\} [1-9]', scrape(metrics_urls["vector_io"]), re.MULTILINE):
        assert time.monotonic() < deadline, "no completed job in the vector_io job gauges"
        time.sleep(0.5)


def _spans_of(stack, trace_id: str, want: int, timeout_s: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        done = subprocess.run(
            [sys.executable, "-m", "stackmesh_launcher", "traces", "--trace", trace_id, "--json", "--state-dir", str(stack.state_dir)],
            capture_output=True, text=True, timeout=60,
        )
        spans = json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else []
        if len(spans) >= want or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def test_one_trace_runs_through_the_gateway_a_job_and_a_peer_call(client, stack):
    trace_id = os.urandom(16).hex()
    parent = os.urandom(8).hex()
    headers = {"traceparent": f"00-{trace_id}-{parent}-01"}
    store = client.vector_stores.create(name="traced")
    file = client.files.create(file=("t.txt", io.BytesIO(b"Traces follow jobs."), "text/plain"), purpose="assistants")
    attached = client.vector_stores.files.create(vector_store_id=store.id, file_id=file.id, extra_headers=headers)
    client.vector_stores.files.poll(file_id=attached.id, vector_store_id=store.id)
    spans = _spans_of(stack, trace_id, want=3)
    by_name = {s["name"]: s for s in spans}
    create = by_name.get("/stackmesh.vector_io.v1.VectorStoresService/CreateVectorStoreFile")
    assert create is not None and create["parent_id"] == parent, spans
    job = next((s for s in spans if s["name"].startswith("job ")), None)
    assert job is not None and job["parent_id"] == create["span_id"] and job["kind"] == "consumer"
    embed = by_name.get("/stackmesh.inference.v1.InferenceService/CreateEmbeddings")
    assert embed is not None and embed["service"] == "stackmesh-inference"
    # The embeddings call descends from the job (directly, or through calls the job made).
    ids = {s["span_id"]: s for s in spans}
    ancestor = embed
    while ancestor["parent_id"] in ids and ancestor["span_id"] != job["span_id"]:
        ancestor = ids[ancestor["parent_id"]]
    assert ancestor["span_id"] == job["span_id"]
    # The services' log lines of the request name its trace.
    assert f'"trace_id": "{trace_id}"' in (stack.state_dir / "logs" / "vector_io.log").read_text()
    rendered = stackmesh(stack, "traces", "--trace", trace_id)
    assert rendered.startswith(f"trace {trace_id}") and "CreateVectorStoreFile" in rendered and "job " in rendered


def test_the_gateway_starts_a_trace_when_the_caller_sends_none(stack):
    started = time.time_ns()
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as api:
        assert api.get("/v1/files/file-no-such-file-for-traces").status_code == 404
    deadline = time.monotonic() + 15
    while True:
        traces = [json.loads(line) for line in stackmesh(stack, "traces", "--last", "50", "--json").splitlines()]
        mine = [s for trace in traces for s in trace if s["name"] == "/stackmesh.vector_io.v1.FilesService/GetFile" and s["start_ns"] >= started]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert mine, f"no span of the call in {stack.state_dir / 'traces'}"
    # Its parent is the span id the gateway put in the traceparent it started.
    assert all(s["parent_id"] for s in mine)
