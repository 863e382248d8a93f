"""Benchmarks and evaluation through the gateway: the shipped benchmark run as a job with
per-row results and aggregates, progress on watch, cancel, evaluate-rows with a model and an
agent candidate, a judge inside a job, a refused row kept as an error, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import httpx
import pytest

from stackmesh.eval.v1 import eval_service_pb2 as pb
from stackmesh.eval.v1 import eval_service_pb2_grpc as pb_grpc
from tests.conftest import CHAT_MODEL
from tests.e2e.test_bad_input import error_of
from tests.support.watch import job_snapshots

BENCHMARKS = "/v1alpha/eval/benchmarks"
SHIPPED = "stackmesh-basics"
MODEL_CANDIDATE = {"type": "model", "model": CHAT_MODEL, "sampling_params": {"strategy": {"type": "greedy"}, "max_tokens": 12}}


@pytest.fixture(scope="module")
def api(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.gateway_url, timeout=120) as client:
        yield client


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def dataset(api: httpx.Client, rows: list[dict], purpose: str = "eval/question-answer") -> str:
    return ok(api.post("/v1beta/datasets", json={"purpose": purpose, "source": {"type": "rows", "rows": rows}}))["identifier"]


def benchmark(api: httpx.Client, dataset_id: str, scoring_functions: list[str]) -> str:
    benchmark_id = f"bench-{uuid.uuid4().hex[:12]}"
    ok(api.post(BENCHMARKS, json={"benchmark_id": benchmark_id, "dataset_id": dataset_id, "scoring_functions": scoring_functions}))
    return benchmark_id


def run(api: httpx.Client, benchmark_id: str, **config) -> dict:
    body = {"benchmark_config": {"eval_candidate": MODEL_CANDIDATE, **config}}
    return ok(api.post(f"{BENCHMARKS}/{benchmark_id}/jobs", json=body))


def settle(api: httpx.Client, benchmark_id: str, job_id: str, timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = ok(api.get(f"{BENCHMARKS}/{benchmark_id}/jobs/{job_id}"))
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s: {job}")


QUESTIONS = [{"question": f"What is {n} + {n}?", "answer": str(2 * n)} for n in range(1, 31)]


def test_the_shipped_benchmark_is_registered_on_its_shipped_dataset(api):
    listed = {b["identifier"]: b for b in ok(api.get(BENCHMARKS))["data"]}
    assert listed[SHIPPED] == {
        "identifier": SHIPPED,
        "provider_resource_id": SHIPPED,
        "provider_id": "meta-reference",
        "type": "benchmark",
        "dataset_id": SHIPPED,
        "scoring_functions": ["basic::subset_of"],
        "metadata": {},
    }
    assert ok(api.get(f"/v1beta/datasets/{SHIPPED}"))["purpose"] == "eval/question-answer"


def test_a_job_on_the_shipped_benchmark_scores_every_row_and_aggregates(api):
    job = run(api, SHIPPED)
    assert job["status"] == "scheduled" and job["job_id"].startswith("eval-")
    done = settle(api, SHIPPED, job["job_id"])
    assert done["status"] == "completed", done
    assert done["job"]["progress"]["completed"] == done["job"]["progress"]["total"] == 24

    result = ok(api.get(f"{BENCHMARKS}/{SHIPPED}/jobs/{job['job_id']}/result"))
    assert len(result["generations"]) == 24
    assert all(isinstance(g["generated_answer"], str) and g["generated_answer"] for g in result["generations"])
    scores = result["scores"]["basic::subset_of"]
    rows = ok(api.get(f"/v1beta/datasetio/iterrows/{SHIPPED}"))["data"]
    # Each score is subset_of recomputed from the generation and the dataset's answer.
    expected = [float(row["answer"] in g["generated_answer"]) for row, g in zip(rows, result["generations"])]
    assert [s["score"] for s in scores["score_rows"]] == expected
    assert scores["aggregated_results"] == {
        "accuracy": pytest.approx(sum(expected) / 24),
        "num_correct": sum(expected),
        "num_total": 24,
    }
    listed = ok(api.get(f"{BENCHMARKS}/{SHIPPED}/jobs"))["data"]
    assert job["job_id"] in [j["job_id"] for j in listed]


def test_num_examples_evaluates_the_first_rows_only(api):
    benchmark_id = benchmark(api, dataset(api, QUESTIONS[:8]), ["basic::equality"])
    job = run(api, benchmark_id, num_examples=3)
    assert settle(api, benchmark_id, job["job_id"])["status"] == "completed"
    result = ok(api.get(f"{BENCHMARKS}/{benchmark_id}/jobs/{job['job_id']}/result"))
    assert len(result["generations"]) == 3
    assert result["scores"]["basic::equality"]["aggregated_results"]["num_total"] == 3


def test_watch_streams_progress_until_the_job_completes(api, stack):
    benchmark_id = benchmark(api, dataset(api, QUESTIONS[:20]), ["basic::subset_of"])
    job = run(api, benchmark_id)
    snapshots = job_snapshots(f"{stack.gateway_url}{BENCHMARKS}/{benchmark_id}/jobs/{job['job_id']}:watch")
    assert snapshots[-1]["state"] == "JOB_STATE_COMPLETED"
    progress = [s["progress"]["completed"] for s in snapshots]
    assert progress == sorted(progress) and progress[-1] == 20
    assert any(0 < p < 20 for p in progress), progress  # seen part-way, not only at the end


def test_watch_over_grpc_names_the_job_kind(api, stack):
    benchmark_id = benchmark(api, dataset(api, QUESTIONS[:2]), ["basic::equality"])
    job = run(api, benchmark_id)
    with grpc.insecure_channel(stack.service_address("eval")) as channel:
        stub = pb_grpc.EvalServiceStub(channel)
        snapshots = list(stub.WatchEvalJob(pb.WatchEvalJobRequest(benchmark_id=benchmark_id, job_id=job["job_id"]), timeout=120))
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetEvalJob(pb.GetEvalJobRequest(benchmark_id=benchmark_id, job_id="eval-missing"), timeout=10)
    assert snapshots[-1].kind == "eval" and snapshots[-1].progress.completed == 2
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_cancel_stops_a_job_within_seconds_and_it_has_no_result(api):
    rows = [{"question": f"Write a long story about the number {n}.", "answer": "x"} for n in range(120)]
    benchmark_id = benchmark(api, dataset(api, rows), ["basic::subset_of"])
    config = {"eval_candidate": {**MODEL_CANDIDATE, "sampling_params": {"max_tokens": 64}}}
    job = ok(api.post(f"{BENCHMARKS}/{benchmark_id}/jobs", json={"benchmark_config": config}))
    deadline = time.monotonic() + 60
    while ok(api.get(f"{BENCHMARKS}/{benchmark_id}/jobs/{job['job_id']}"))["job"]["progress"]["completed"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    began = time.monotonic()
    ok(api.delete(f"{BENCHMARKS}/{benchmark_id}/jobs/{job['job_id']}"))
    done = settle(api, benchmark_id, job["job_id"], timeout_s=30)
    assert done["status"] == "cancelled" and time.monotonic() - began < 15
    assert done["job"]["progress"]["completed"] < 120
    refused = api.get(f"{BENCHMARKS}/{benchmark_id}/jobs/{job['job_id']}/result")
    assert refused.status_code == 400 and error_of(refused)["code"] == "job_not_completed"


def test_a_judge_scores_rows_inside_a_job(api):
    benchmark_id = benchmark(api, dataset(api, QUESTIONS[:4]), ["llm-as-judge::base", "basic::equality"])
    judge = {"type": "llm_as_judge", "judge_model": CHAT_MODEL, "judge_output_regex": "Score: [0-5]"}
    job = run(api, benchmark_id, scoring_params={"llm-as-judge::base": judge})
    assert settle(api, benchmark_id, job["job_id"])["status"] == "completed"
    result = ok(api.get(f"{BENCHMARKS}/{benchmark_id}/jobs/{job['job_id']}/result"))
    judged = result["scores"]["llm-as-judge::base"]
    assert [isinstance(row["score"], int) and 0 <= row["score"] <= 5 for row in judged["score_rows"]] == [True] * 4
    assert judged["aggregated_results"]["average"] == pytest.approx(sum(r["score"] for r in judged["score_rows"]) / 4)


def test_a_row_the_model_refuses_is_recorded_with_its_error_and_the_job_goes_on(api):
    rows = [
        {"messages": [{"role": "user", "content": "Say yes."}], "answer": "yes"},
        # A tool message that answers no call: the inference service refuses this row.
        {"messages": [{"role": "tool", "content": "42"}], "answer": "42"},
        {"messages": [{"role": "user", "content": "Say no."}], "answer": "no"},
    ]
    benchmark_id = benchmark(api, dataset(api, rows, "eval/messages-answer"), ["basic::subset_of"])
    job = run(api, benchmark_id)
    assert settle(api, benchmark_id, job["job_id"])["status"] == "completed"
    result = ok(api.get(f"{BENCHMARKS}/{benchmark_id}/jobs/{job['job_id']}/result"))
    refused = result["generations"][1]
    assert refused["generated_answer"] is None and "tool" in refused["error"]
    scores = result["scores"]["basic::subset_of"]
    assert scores["score_rows"][1]["score"] is None and scores["score_rows"][1]["error"] == refused["error"]
    assert scores["aggregated_results"]["num_total"] == 2 and scores["aggregated_results"]["num_errors"] == 1
    assert all(isinstance(g["generated_answer"], str) for g in (result["generations"][0], result["generations"][2]))


def test_evaluate_rows_answers_in_the_request(api):
    body = {
        "input_rows": [{"question": "What is the capital of France?", "answer": "Paris"}, {"question": "Say hi.", "answer": "hi"}],
        "scoring_functions": ["basic::subset_of", "basic::equality"],
        "benchmark_config": {"eval_candidate": {**MODEL_CANDIDATE, "system_message": {"role": "system", "content": "Answer in one word."}}},
    }
    result = ok(api.post(f"{BENCHMARKS}/{SHIPPED}/evaluations", json=body))
    assert len(result["generations"]) == 2
    assert set(result["scores"]) == {"basic::subset_of", "basic::equality"}
    answers = [g["generated_answer"] for g in result["generations"]]
    assert [r["score"] for r in result["scores"]["basic::equality"]["score_rows"]] == [
        float(a.strip() == e) for a, e in zip(answers, ["Paris", "hi"])
    ]


def test_an_agent_candidate_answers_through_the_agents_service(api):
    agent = {"model": CHAT_MODEL, "instructions": "Answer briefly.", "sampling_params": {"strategy": {"type": "greedy"}, "max_tokens": 16}}
    body = {
        "input_rows": [{"question": "What is the capital of France?", "answer": "Paris"}],
        "benchmark_config": {"eval_candidate": {"type": "agent", "config": agent}},
    }
    agents_before = ok(api.get("/v1alpha/agents"))["data"]
    result = ok(api.post(f"{BENCHMARKS}/{SHIPPED}/evaluations", json=body))
    assert isinstance(result["generations"][0]["generated_answer"], str) and result["generations"][0]["generated_answer"]
    assert result["scores"]["basic::subset_of"]["aggregated_results"]["num_total"] == 1
    # The agent made for the evaluation is gone with it.
    assert ok(api.get("/v1alpha/agents"))["data"] == agents_before


def test_a_benchmark_is_registered_listed_and_unregistered(api):
    dataset_id = dataset(api, QUESTIONS[:2])
    benchmark_id = f"bench-{uuid.uuid4().hex[:12]}"
    body = {"benchmark_id": benchmark_id, "dataset_id": dataset_id, "scoring_functions": ["basic::equality"], "metadata": {"n": 2}}
    ok(api.post(BENCHMARKS, json=body))
    got = ok(api.get(f"{BENCHMARKS}/{benchmark_id}"))
    assert (got["dataset_id"], got["scoring_functions"], got["metadata"]) == (dataset_id, ["basic::equality"], {"n": 2})
    taken = api.post(BENCHMARKS, json=body)
    assert taken.status_code == 409 and error_of(taken)["param"] == "benchmark_id"
    ok(api.delete(f"{BENCHMARKS}/{benchmark_id}"))
    gone = api.get(f"{BENCHMARKS}/{benchmark_id}")
    assert gone.status_code == 404 and benchmark_id in error_of(gone)["message"]


@pytest.mark.parametrize(
    ("body", "status", "param", "named"),
    [
        ({"dataset_id": "no-such-dataset", "scoring_functions": ["basic::equality"]}, 404, "dataset_id", "no-such-dataset"),
        ({"dataset_id": SHIPPED, "scoring_functions": ["basic::nope"]}, 404, "scoring_functions[0]", "basic::nope"),
        ({"dataset_id": SHIPPED, "scoring_functions": []}, 400, "scoring_functions", "scoring function"),
    ],
)
def test_registering_a_benchmark_on_what_does_not_exist_names_it(api, body, status, param, named):
    response = api.post(BENCHMARKS, json={"benchmark_id": f"bench-{uuid.uuid4().hex[:8]}", **body})
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["param"] == param and named in error["message"]


@pytest.mark.parametrize(
    ("candidate", "config", "status", "param", "named"),
    [
        ({**MODEL_CANDIDATE, "model": "no-such-model"}, {}, 404, "benchmark_config.eval_candidate.model", "no-such-model"),
        ({"type": "robot"}, {}, 400, "benchmark_config.eval_candidate.type", "robot"),
        ({"type": "model"}, {}, 400, "benchmark_config.eval_candidate.model", "model"),
        (MODEL_CANDIDATE, {"num_examples": 0}, 400, "benchmark_config.num_examples", "at least 1"),
        (MODEL_CANDIDATE, {"scoring_params": {"basic::equality": {"type": "basic"}}}, 400, "benchmark_config.scoring_params", "basic::equality"),
        ({**MODEL_CANDIDATE, "sampling_params": {"strategy": {"type": "beam"}}}, {}, 400, "benchmark_config.eval_candidate.sampling_params.strategy.type", "beam"),
        ({"type": "agent"}, {}, 400, "benchmark_config.eval_candidate.config", "AgentConfig"),
    ],
)
def test_a_bad_run_is_refused_naming_the_field(api, candidate, config, status, param, named):
    response = api.post(f"{BENCHMARKS}/{SHIPPED}/jobs", json={"benchmark_config": {"eval_candidate": candidate, **config}})
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["param"] == param and named in error["message"]


def test_unknown_benchmarks_and_jobs_are_404(api):
    missing = api.post(f"{BENCHMARKS}/no-such-benchmark/jobs", json={"benchmark_config": {"eval_candidate": MODEL_CANDIDATE}})
    assert missing.status_code == 404 and "no-such-benchmark" in error_of(missing)["message"]
    assert api.get(f"{BENCHMARKS}/{SHIPPED}/jobs/eval-{'0' * 32}").status_code == 404
    assert api.get(f"{BENCHMARKS}/{SHIPPED}/jobs/eval-{'0' * 32}/result").status_code == 404
    # A job is found under its own benchmark only.
    other = benchmark(api, dataset(api, QUESTIONS[:1]), ["basic::equality"])
    job = run(api, other)
    assert api.get(f"{BENCHMARKS}/{SHIPPED}/jobs/{job['job_id']}").status_code == 404
    settle(api, other, job["job_id"])


def test_evaluate_rows_refuses_rows_without_an_input(api):
    body = {"input_rows": [{"answer": "x"}], "benchmark_config": {"eval_candidate": MODEL_CANDIDATE}}
    response = api.post(f"{BENCHMARKS}/{SHIPPED}/evaluations", json=body)
    assert response.status_code == 400 and error_of(response)["param"] == "input_rows[0]"
    empty = api.post(f"{BENCHMARKS}/{SHIPPED}/evaluations", json={**body, "input_rows": []})
    assert empty.status_code == 400 and error_of(empty)["param"] == "input_rows"


def test_a_dataset_candidate_scores_answers_made_elsewhere_with_exact_numbers(api):
    rows = [
        {"question": "2 + 2?", "answer": "4", "generated_answer": "4"},
        {"question": "3 + 3?", "answer": "6", "generated_answer": "5"},
        {"question": "4 + 4?", "answer": "8", "generated_answer": "8"},
        {"question": "5 + 5?", "answer": "10"},  # no answer to score: recorded as the row's error
    ]
    benchmark_id = benchmark(api, dataset(api, rows), ["basic::equality"])
    job = ok(api.post(f"{BENCHMARKS}/{benchmark_id}/jobs", json={"benchmark_config": {"eval_candidate": {"type": "dataset"}}}))
    assert settle(api, benchmark_id, job["job_id"])["status"] == "completed"
    result = ok(api.get(f"{BENCHMARKS}/{benchmark_id}/jobs/{job['job_id']}/result"))
    scores = result["scores"]["basic::equality"]
    assert [row["score"] for row in scores["score_rows"]] == [1.0, 0.0, 1.0, None]
    assert "generated_answer" in scores["score_rows"][3]["error"]
    assert scores["aggregated_results"] == {"accuracy": pytest.approx(2 / 3), "num_correct": 2.0, "num_total": 3, "num_errors": 1}


def test_stackmesh_eval_runs_a_benchmark_in_one_command(stack):
    stackmesh = Path(sys.executable).with_name("stackmesh")
    command = [str(stackmesh), "eval", SHIPPED, "--model", CHAT_MODEL, "--max-tokens", "8", "--num-examples", "4", "--url", stack.gateway_url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "4/4 rows" in done.stdout
    scores = json.loads(done.stdout[done.stdout.index("{"):])
    assert scores["basic::subset_of"]["num_total"] == 4 and 0 <= scores["basic::subset_of"]["accuracy"] <= 1
    refused = subprocess.run([*command[:4], "no-such-model", *command[5:]], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "no-such-model" in refused.stderr
