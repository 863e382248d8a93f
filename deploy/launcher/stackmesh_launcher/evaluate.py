"""`stackmesh eval BENCHMARK --model M`: one command from a running stack to a scored benchmark.

Starts an evaluation job through the gateway, prints its progress from the job's watch
stream, then the aggregated scores (and, with --rows, each row's answer and score).
"""

from __future__ import annotations

import argparse
import json
import os

import httpx

DEFAULT_URL = "http://127.0.0.1:8321"


class EvalCommandError(Exception):
    """The stack refused the evaluation or the job did not complete."""


def _error(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text


def evaluate(args: argparse.Namespace) -> int:
    jobs = f"/v1alpha/eval/benchmarks/{args.benchmark}/jobs"
    candidate = {"type": "model", "model": args.model, "sampling_params": {"strategy": {"type": "greedy"}, "max_tokens": args.max_tokens}}
    config: dict = {"eval_candidate": candidate}
    if args.num_examples:
        config["num_examples"] = args.num_examples
    try:
        headers = {"authorization": f"Bearer {args.api_key}"} if args.api_key else {}
        with httpx.Client(base_url=args.url, headers=headers, timeout=httpx.Timeout(30, read=None)) as api:
            started = api.post(jobs, json={"benchmark_config": config})
            if started.status_code != 200:
                raise EvalCommandError(_error(started))
            job_id = started.json()["job_id"]
            print(f"stackmesh: evaluating {args.model} on {args.benchmark} (job {job_id})", flush=True)
            state = ""
            with api.stream("GET", f"{jobs}/{job_id}:watch") as watch:
                for line in watch.iter_lines():
                    if line.startswith("data: "):
                        snapshot = json.loads(line.removeprefix("data: "))
                        state, progress = snapshot["state"], snapshot["progress"]
                        print(f"  {progress['completed']}/{progress['total']} rows", flush=True)
            if state != "JOB_STATE_COMPLETED":
                job = api.get(f"{jobs}/{job_id}").json()
                raise EvalCommandError(f"job {job_id} ended {job['status']}: {job['job'].get('error', {}).get('message', '')}")
            result = api.get(f"{jobs}/{job_id}/result").json()
    except httpx.HTTPError as exc:
        raise EvalCommandError(f"cannot reach the gateway at {args.url}: {exc}") from None
    if args.rows:
        for index, generation in enumerate(result["generations"]):
            scores = {fn: s["score_rows"][index].get("score") for fn, s in result["scores"].items()}
            print(f"  row {index}: {generation.get('generated_answer')!r} {scores}")
    print(json.dumps({fn: s["aggregated_results"] for fn, s in result["scores"].items()}, indent=2))
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("eval", help="run a benchmark on a model of the running stack and print its scores")
    command.add_argument("benchmark", help="benchmark id, e.g. stackmesh-basics (GET /v1alpha/eval/benchmarks lists them)")
    command.add_argument("--model", required=True, help="model id of the inference service")
    command.add_argument("--max-tokens", type=int, default=32, help="tokens per answer (default 32)")
    command.add_argument("--num-examples", type=int, help="evaluate only the first N rows")
    command.add_argument("--rows", action="store_true", help="also print each row's answer and score")
    command.add_argument("--url", default=DEFAULT_URL, help=f"the gateway (default {DEFAULT_URL})")
    command.add_argument("--api-key", default=os.environ.get("STACKMESH_API_KEY"), help="when auth is on (default: $STACKMESH_API_KEY)")
    command.set_defaults(run=evaluate)

