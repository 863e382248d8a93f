"""What the eval service costs on top of the work it drives, measured in one run.

Starts inference, vector_io, eval (two eval workers, no jobs in the service) and the gateway:
  (a) scoring throughput: 10,000 rows scored with basic::equality in one `POST
      /v1/scoring/score` through the gateway (target >= 2,000 rows/s);
  (b) run-eval with inference: rows/s of an evaluation job (model candidate, greedy, 16
      tokens) vs the same chat completions sent straight to the inference service over gRPC
      at the job's concurrency (shards_in_flight x row_concurrency), interleaved rounds
      (target >= 0.9x);
  (c) a scoring-only job (a `dataset` candidate: answers already in the rows) on 1 vs 2 eval
      workers, rows/s and their ratio.
Usage: python bench/eval.py [--rounds 3] [--rows 48] [--scoring-rows 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stackmesh.common.v1 import chat_pb2  # noqa: E402
from stackmesh.inference.v1 import inference_service_pb2 as inference_pb  # noqa: E402
from stackmesh.inference.v1 import inference_service_pb2_grpc as inference_grpc  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from bench.support import local_distribution  # noqa: E402

MODEL = "SmolLM2-135M-Instruct"
MAX_TOKENS = 16
BENCHMARKS = "/v1alpha/eval/benchmarks"


def distribution(directory: Path) -> Path:
    path = local_distribution(directory, "inference", "vector_io", "eval")
    data = yaml.safe_load(path.read_text())
    data["services"]["eval"]["workers"] = 2
    data["services"]["eval"]["settings"] = {"runs": {"in_process": False}, "shards": {"in_process": False}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def register(api: httpx.Client, name: str, rows: list[dict], scoring: list[str]) -> None:
    api.post("/v1beta/datasets", json={"dataset_id": name, "purpose": "eval/question-answer", "source": {"type": "rows", "rows": rows}}).raise_for_status()
    api.post(BENCHMARKS, json={"benchmark_id": name, "dataset_id": name, "scoring_functions": scoring}).raise_for_status()


def run_job(api: httpx.Client, name: str, candidate: dict) -> float:
    """Seconds from submit to completed."""
    began = time.perf_counter()
    job = api.post(f"{BENCHMARKS}/{name}/jobs", json={"benchmark_config": {"eval_candidate": candidate}}).json()
    while (status := api.get(f"{BENCHMARKS}/{name}/jobs/{job['job_id']}").json()["status"]) not in ("completed", "failed", "cancelled"):
        time.sleep(0.05)
    assert status == "completed", status
    return time.perf_counter() - began


def direct(stub: inference_grpc.InferenceServiceStub, questions: list[str], concurrency: int) -> float:
    def one(question: str) -> None:
        message = chat_pb2.ChatMessage(role="user")
        message.content.string_value = question
        stub.CreateChatCompletion(
            inference_pb.CreateChatCompletionRequest(model=MODEL, messages=[message], temperature=0.0, max_tokens=MAX_TOKENS, store=False),
            timeout=120,
        )

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, questions))
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=48)
    parser.add_argument("--scoring-rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(distribution(Path(tmp)), state_dir=Path(tmp) / "state")
        stack.start()
        try:
            with httpx.Client(base_url=stack.gateway_url, timeout=300) as api, grpc.insecure_channel(stack.service_address("inference")) as channel:
                # (a) scoring throughput
                rows = [{"expected_answer": str(i % 7), "generated_answer": str(i % 5)} for i in range(10_000)]
                body = {"input_rows": rows, "scoring_functions": {"basic::equality": None}}
                api.post("/v1/scoring/score", json={**body, "input_rows": rows[:100]}).raise_for_status()  # warm
                timings = []
                for _ in range(3):
                    began = time.perf_counter()
                    api.post("/v1/scoring/score", json=body).raise_for_status()
                    timings.append(time.perf_counter() - began)
                print(f"(a) score 10,000 rows with basic::equality: {10_000 / statistics.median(timings):,.0f} rows/s (median of 3)")

                # (b) an evaluation job vs the same generations straight to inference
                questions = [f"What is {n} plus {n + 1}? Answer with a number." for n in range(args.rows)]
                register(api, "bench-gen", [{"question": q, "answer": str(2 * n + 1)} for n, q in enumerate(questions)], ["basic::subset_of"])
                candidate = {"type": "model", "model": MODEL, "sampling_params": {"strategy": {"type": "greedy"}, "max_tokens": MAX_TOKENS}}
                stub = inference_grpc.InferenceServiceStub(channel)
                concurrency = 4 * 2  # the defaults: shards_in_flight x shards.row_concurrency
                direct(stub, questions[:8], concurrency)  # warm
                run_job(api, "bench-gen", candidate)
                ratios = []
                for round_ in range(args.rounds):
                    job_s = run_job(api, "bench-gen", candidate)
                    direct_s = direct(stub, questions, concurrency)
                    ratios.append(direct_s / job_s)
                    print(f"    round {round_ + 1}: job {args.rows / job_s:.2f} rows/s, direct {args.rows / direct_s:.2f} rows/s, ratio {direct_s / job_s:.3f}")
                print(f"(b) run-eval vs direct generations at concurrency {concurrency}: {statistics.median(ratios):.3f}x (median)")

                # (c) a scoring-only job on 1 vs 2 workers
                scored = [{"question": f"q{i}", "answer": str(i % 7), "generated_answer": str(i % 5)} for i in range(args.scoring_rows)]
                register(api, "bench-score", scored, ["basic::equality"])
                two = [args.scoring_rows / run_job(api, "bench-score", {"type": "dataset"}) for _ in range(2)]
                stack.stop_component("eval-worker-2")
                one = [args.scoring_rows / run_job(api, "bench-score", {"type": "dataset"}) for _ in range(2)]
                print(f"(c) scoring-only job, {args.scoring_rows} rows: 1 worker {max(one):,.0f} rows/s, 2 workers {max(two):,.0f} rows/s, ratio {max(two) / max(one):.2f}")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
