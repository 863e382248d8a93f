"""An evaluation job survives its workers: two eval worker processes run by the launcher,
SIGKILLed five times during a 200-row job; the job completes and every row is stored once.
The same cut-down stack shows the gateway's 501 for an API the distribution lacks."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import psycopg
import pytest
import yaml
from google.protobuf import struct_pb2

from stackmesh.eval.v1 import benchmark_pb2, dataset_pb2
from stackmesh.eval.v1 import eval_service_pb2 as pb
from stackmesh.eval.v1 import eval_service_pb2_grpc as pb_grpc
from stackmesh_launcher import state
from stackmesh_launcher.stack import LocalStack
from tests.conftest import CHAT_MODEL, LOCAL_DISTRIBUTION
from tests.e2e.test_bad_input import error_of

ROWS = 100
KILLS = 5


def inference_and_eval(directory: Path) -> Path:
    """local.yaml cut to what an evaluation needs: SmolLM2 on llama.cpp (and vector_io, which
    inference's batches read files from), and eval with two workers that run every job (none
    in the service), a dead one's shard back in 2 s."""
    data = yaml.safe_load(LOCAL_DISTRIBUTION.read_text())
    inference = data["services"]["inference"]
    inference["providers"] = [p for p in inference["providers"] if p["provider_id"] == "llama-cpp"]
    inference["resources"]["models"] = [m for m in inference["resources"]["models"] if m["model_id"] == CHAT_MODEL]
    vector_io = data["services"]["vector_io"]
    vector_io["providers"] = [p for p in vector_io["providers"] if p["provider_id"] == "pgvector"]
    data["services"] = {"inference": inference, "vector_io": vector_io, "eval": {"port": 0, "workers": 2, "settings": {
        "runs": {"in_process": False, "ack_wait_s": 2},
        "shards": {"in_process": False, "ack_wait_s": 2, "rows": 5},
    }}}
    path = directory / "eval-workers.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def worker_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(inference_and_eval(tmp_path_factory.mktemp("dist")), state_dir=tmp_path_factory.mktemp("eval-workers"))
    stack.start()
    yield stack
    stack.stop()


def worker_pid(stack: LocalStack, name: str) -> int:
    record = state.read(stack.state_dir)
    [component] = [c for c in record.components if c.name == name]
    return component.process.pid


def test_five_worker_kills_during_a_job_lose_no_row_and_store_none_twice(worker_stack):
    with grpc.insecure_channel(worker_stack.service_address("eval")) as channel:
        datasets = pb_grpc.DatasetsServiceStub(channel)
        rows = []
        for n in range(ROWS):
            row = struct_pb2.Struct()
            row.update({"question": f"Count from {n} to {n + 5}.", "answer": str(n + 5)})
            rows.append(row)
        dataset = datasets.RegisterDataset(
            pb.RegisterDatasetRequest(purpose="eval/question-answer", source=dataset_pb2.DataSource(type="rows", rows=rows)), timeout=60
        )
        pb_grpc.BenchmarksServiceStub(channel).RegisterBenchmark(
            pb.RegisterBenchmarkRequest(benchmark_id="count", dataset_id=dataset.identifier, scoring_functions=["basic::subset_of"]),
            timeout=30,
        )
        evals = pb_grpc.EvalServiceStub(channel)
        candidate = benchmark_pb2.EvalCandidate(
            type="model", model=CHAT_MODEL, sampling_params=benchmark_pb2.SamplingParams(max_tokens=16)
        )
        job = evals.RunEval(
            pb.RunEvalRequest(benchmark_id="count", benchmark_config=benchmark_pb2.BenchmarkConfig(eval_candidate=candidate)), timeout=30
        )

        def progress() -> tuple[str, int]:
            got = evals.GetEvalJob(pb.GetEvalJobRequest(benchmark_id="count", job_id=job.job_id), timeout=10)
            return got.status, got.job.progress.completed

        killed_at = []
        for kill in range(KILLS):
            # Alternate workers, each kill once some rows were stored since the last.
            deadline, since = time.monotonic() + 120, progress()[1]
            while progress()[1] < since + 3:
                assert time.monotonic() < deadline and progress()[0] != "completed", f"the job ended after {kill} kills"
                time.sleep(0.2)
            os.kill(worker_pid(worker_stack, f"eval-worker-{kill % 2 + 1}"), signal.SIGKILL)
            killed_at.append(progress()[1])

        deadline = time.monotonic() + 300
        while (status := progress()[0]) not in ("completed", "failed", "cancelled"):
            assert time.monotonic() < deadline, "the job did not finish after its workers came back"
            time.sleep(0.5)
        assert status == "completed", evals.GetEvalJob(pb.GetEvalJobRequest(benchmark_id="count", job_id=job.job_id), timeout=10)
        result = evals.GetEvalJobResult(pb.GetEvalJobResultRequest(benchmark_id="count", job_id=job.job_id), timeout=60)

    assert killed_at == sorted(killed_at) and killed_at[-1] < ROWS, killed_at  # every kill hit the running job
    assert len(result.generations) == ROWS
    assert len(result.scores["basic::subset_of"].score_rows) == ROWS
    with psycopg.connect(worker_stack.config.postgres.url) as conn:
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT row_index) FROM eval.eval_rows WHERE job_id = %s", (job.job_id,)
        ).fetchone()
        redelivered = conn.execute(
            "SELECT count(*) FROM eval.jobs WHERE id LIKE %s AND attempts > 1", (f"{job.job_id}.rows-%",)
        ).fetchone()[0]
    assert (stored, distinct) == (ROWS, ROWS)
    assert redelivered >= 1  # the kills cut shards, which other deliveries finished
    restarts = {c.name: c.restarts for c in state.read(worker_stack.state_dir).components}
    assert restarts["eval-worker-1"] + restarts["eval-worker-2"] == KILLS


def test_an_api_the_distribution_lacks_is_501_naming_it(worker_stack):
    response = httpx.get(f"{worker_stack.gateway_url}/v1alpha/post-training/jobs", timeout=30)
    assert response.status_code == 501
    assert "post_training" in error_of(response)["message"]
