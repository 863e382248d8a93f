"""Batches and the durable-jobs runtime under them: what running work as a job costs, in one run.

Starts a stack of inference + vector_io (batches run in the inference service's own worker, the
default `settings.batches.in_process: true`, or with --worker-process in a
`stackmesh_inference.worker` process) and measures:
1. Job submit → handler start: N jobs of a trivial kind submitted one at a time with
   `JobQueue.submit` to a `JobRunner` in this process, on the stack's real NATS and Postgres;
   the latency from the submit call (and from its return) to the handler's first line.
2. Cancel → stop of a running trivial job: `JobQueue.cancel` → the handler sees
   `cancel_requested`, and → the record is `cancelled`.
3. A chat batch of `--lines` requests (max_tokens `--max-tokens`) end to end through the
   gateway (create → the watch stream's terminal event; the input file is uploaded first and
   not timed) against the same requests sent straight to the inference service over gRPC with
   the same concurrency as the batch (`requests_in_flight`, 8); rounds interleaved direct,
   batch, batch, direct so drift hits both alike. From the inference service's rpc log: the
   mean time it took to serve one request, and how busy the 8 request slots were, per mode.
4. Cancel → stop of a running batch through the API: until its worker logs that it saw the
   cancel, and until the batch is `cancelled` (results and error files written).
Usage: python bench/batches.py [--jobs 50] [--lines 200] [--max-tokens 8] [--rounds 2] [--worker-process]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grpc
import httpx
import openai
from google.protobuf import json_format, struct_pb2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stackmesh.inference.v1 import inference_service_pb2 as pb  # noqa: E402
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc  # noqa: E402
from stackmesh_common import jobs  # noqa: E402
from stackmesh_common.db import migrate, open_pool  # noqa: E402
from stackmesh_common.service import COMMON_MIGRATIONS  # noqa: E402
from stackmesh_inference.settings import BatchSettings  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from bench.support import local_distribution, percentile  # noqa: E402

MODEL = "SmolLM2-135M-Instruct"
SCHEMA = "bench_jobs"
TERMINAL = ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")
# Completed batches whose job record ended with progress below the line count.
PROGRESS_SHORT: list[str] = []


def epoch(ts: str) -> float:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


class Timed:
    """A trivial job kind's handler: notes when each job starts and when it sees a cancel."""

    payload_type = struct_pb2.Struct

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.saw_cancel: dict[str, float] = {}
        self.running: dict[str, asyncio.Event] = {}

    async def run(self, job: jobs.JobContext) -> dict[str, Any] | None:
        self.started.setdefault(job.id, time.time())
        if job.payload["wait"]:
            self.running.setdefault(job.id, asyncio.Event()).set()
            await job.cancel_requested.wait()
            self.saw_cancel[job.id] = time.time()
        return None

    async def failed(self, job: jobs.JobContext, error: BaseException) -> None:
        pass

    async def cancelled_unstarted(self, record: jobs.JobRecord) -> None:
        pass


def payload(wait: bool) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update({"wait": wait})
    return message


async def job_latencies(stack: LocalStack, n_jobs: int, n_cancels: int) -> dict[str, list[float]]:
    nc = await jobs.connect(stack.config.nats, "bench")
    pool = await open_pool(stack.config.postgres, SCHEMA)
    await migrate(pool, SCHEMA, COMMON_MIGRATIONS, prefix="common/")
    kind = jobs.JobKind(f"bench_{uuid.uuid4().hex[:8]}", ack_wait_s=30)
    handler = Timed()
    runner = jobs.JobRunner(nc, pool, kind, handler, concurrency=4)
    await runner.start()
    queue = jobs.JobQueue(nc, pool)
    out: dict[str, list[float]] = {"submit call": [], "submit return": [], "submit only": [], "cancel seen": [], "cancel recorded": []}
    try:
        await asyncio.sleep(1.5)  # the runner's first fetch is waiting
        for i in range(n_jobs + 5):
            job_id = f"job_{uuid.uuid4().hex}"
            called = time.time()
            await queue.submit(kind, job_id, payload(False))
            returned = time.time()
            deadline = time.monotonic() + 10
            while job_id not in handler.started:
                assert time.monotonic() < deadline, f"job {job_id} never started"
                await asyncio.sleep(0.001)
            if i >= 5:  # warm-up
                out["submit call"].append((handler.started[job_id] - called) * 1000)
                out["submit return"].append((handler.started[job_id] - returned) * 1000)
                out["submit only"].append((returned - called) * 1000)
            await asyncio.sleep(0.05)
        for _ in range(n_cancels):
            job_id = f"job_{uuid.uuid4().hex}"
            handler.running[job_id] = asyncio.Event()
            await queue.submit(kind, job_id, payload(True))
            await asyncio.wait_for(handler.running[job_id].wait(), 10)
            await asyncio.sleep(0.2)
            called = time.time()
            await queue.cancel(kind, job_id)
            while (record := await queue.store.get(job_id)).state != "cancelled":
                assert time.time() - called < 10, record
                await asyncio.sleep(0.002)
            recorded = time.time()
            out["cancel seen"].append((handler.saw_cancel[job_id] - called) * 1000)
            out["cancel recorded"].append((recorded - called) * 1000)
    finally:
        await runner.stop(grace_s=1)
        await pool.close()
        await nc.close()
    return out


def log_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def served(stack: LocalStack, since: float, until: float) -> tuple[float, float]:
    """(mean ms, summed seconds) of the chat completions the inference service served in [since, until]."""
    calls = [
        e["ms"]
        for e in log_lines(stack.state_dir / "logs" / "inference.log")
        if e.get("msg") == "rpc" and e.get("method", "").endswith("/CreateChatCompletion") and since <= epoch(e["ts"]) <= until
    ]
    return statistics.mean(calls), sum(calls) / 1000


def chat_body(i: int, max_tokens: int) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": f"Say hi to number {i}"}], "max_tokens": max_tokens, "temperature": 0}


async def direct(stack: LocalStack, bodies: list[dict[str, Any]], in_flight: int) -> float:
    """The batch's requests straight to the inference service, `in_flight` at a time, as the batch sends them."""
    requests = [json_format.ParseDict(body, pb.CreateChatCompletionRequest(), ignore_unknown_fields=True) for body in bodies]
    async with grpc.aio.insecure_channel(stack.service_address("inference")) as channel:
        stub = pb_grpc.InferenceServiceStub(channel)
        pending = list(reversed(requests))

        async def sender() -> None:
            while pending:
                await stub.CreateChatCompletion(pending.pop(), timeout=300)

        began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(in_flight)))
        return time.perf_counter() - began


async def watch(stack: LocalStack, batch_id: str, events: list[tuple[float, dict]]) -> None:
    """Collects (arrival time, job snapshot) from the batch's SSE watch until it is terminal."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=300)) as http:
        async with http.stream("GET", f"{stack.gateway_url}/v1/batches/{batch_id}:watch") as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[len("data: ") :])
                    events.append((time.perf_counter(), event))
                    if event.get("state") in TERMINAL:
                        return


async def upload(client: openai.AsyncOpenAI, bodies: list[dict[str, Any]]) -> str:
    text = "\n".join(
        json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}) for i, body in enumerate(bodies)
    )
    return (await client.files.create(file=("input.jsonl", io.BytesIO(text.encode())), purpose="batch")).id


async def batch(stack: LocalStack, client: openai.AsyncOpenAI, bodies: list[dict[str, Any]]) -> tuple[float, float]:
    """(create → terminal event, first request-phase event → all requests done), in seconds."""
    file_id = await upload(client, bodies)
    began = time.perf_counter()
    created = await client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
    events: list[tuple[float, dict]] = []
    await watch(stack, created.id, events)
    ended = time.perf_counter()
    done = await client.batches.retrieve(created.id)
    assert done.status == "completed" and done.request_counts.completed == len(bodies), done
    requests = [(at, e) for at, e in events if e["progress"].get("phase") == "requests"]
    first = requests[0][0]
    # The snapshot where the most lines were done (job progress is written by 8 senders at
    # once, and a late write can leave it below the real count: see PROGRESS_SHORT).
    most = max(e["progress"].get("completed", 0) for _, e in requests)
    all_done = next(at for at, e in requests if e["progress"].get("completed", 0) == most)
    if events[-1][1]["progress"].get("completed", 0) != len(bodies):
        PROGRESS_SHORT.append(f"{events[-1][1]['progress'].get('completed', 0)}/{len(bodies)}")
    return ended - began, all_done - first


async def batch_cancel(stack: LocalStack, client: openai.AsyncOpenAI, worker_log: Path) -> tuple[float, float, float]:
    """(cancel call, cancel → worker saw it, cancel → batch cancelled) in ms, for a running batch."""
    bodies = [{**chat_body(i, 48), "messages": [{"role": "user", "content": "Write a long story about a dragon"}]} for i in range(40)]
    file_id = await upload(client, bodies)
    created = await client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
    while (await client.batches.retrieve(created.id)).request_counts.completed < 2:
        await asyncio.sleep(0.05)
    events: list[tuple[float, dict]] = []
    watching = asyncio.create_task(watch(stack, created.id, events))
    await asyncio.sleep(0.3)
    called, called_perf = time.time(), time.perf_counter()
    await client.batches.cancel(created.id)
    answered = time.perf_counter()
    await watching
    assert events[-1][1]["state"] == "JOB_STATE_CANCELLED", events[-1]
    cancelled = events[-1][0]
    seen = next(epoch(e["ts"]) for e in log_lines(worker_log) if e.get("msg") == f"cancelling job {created.id}")
    return (answered - called_perf) * 1000, (seen - called) * 1000, (cancelled - called_perf) * 1000


async def batch_vs_direct(
    stack: LocalStack, lines: int, max_tokens: int, rounds: int, in_flight: int, worker_log: Path
) -> dict[str, list[float]]:
    bodies = [chat_body(i, max_tokens) for i in range(lines)]
    client = openai.AsyncOpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=300)
    out: dict[str, list[float]] = {"direct": [], "batch": [], "batch requests": [], "cancel call": [], "cancel seen": [], "cancel done": []}
    # Warm-up: model, channels, the batch worker's first fetch.
    await direct(stack, bodies[:16], in_flight)
    await batch(stack, client, bodies[:16])
    for round_ in range(rounds):
        order = ("direct", "batch") if round_ % 2 == 0 else ("batch", "direct")
        for name in order:
            since = time.time()
            if name == "direct":
                out["direct"].append(await direct(stack, bodies, in_flight))
            else:
                total, requests = await batch(stack, client, bodies)
                out["batch"].append(total)
                out["batch requests"].append(requests)
            await asyncio.sleep(0.5)  # the service's log lines are written
            mean_ms, busy_s = served(stack, since, time.time())
            wall = out[name][-1] if name == "direct" else out["batch requests"][-1]
            out.setdefault(f"{name} request ms", []).append(mean_ms)
            # The share of the `in_flight` request slots that held a request the service was serving.
            out.setdefault(f"{name} slots busy", []).append(100 * busy_s / (wall * in_flight))
            print(f"  round {round_ + 1} {name}: {out[name][-1]:.1f} s, requests {mean_ms:.0f} ms on average", file=sys.stderr)
    for _ in range(3):
        call, seen, done = await batch_cancel(stack, client, worker_log)
        out["cancel call"].append(call)
        out["cancel seen"].append(seen)
        out["cancel done"].append(done)
    await client.close()
    return out


def start_worker(stack: LocalStack, log: Path) -> subprocess.Popen:
    worker = subprocess.Popen(
        [sys.executable, "-m", "stackmesh_inference.worker", "--config", str(stack.config_path)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    deadline = time.monotonic() + 60
    while not any(e.get("msg") == "job runner started" for e in log_lines(log)):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the batch worker did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    return worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--cancels", type=int, default=10)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--worker-process", action="store_true", help="run batches in a `stackmesh_inference.worker` process, not in the service"
    )
    args = parser.parse_args()
    in_flight = BatchSettings().requests_in_flight
    if args.worker_process:
        os.environ["STACKMESH_SERVICES__INFERENCE__SETTINGS__BATCHES__IN_PROCESS"] = "false"

    with tempfile.TemporaryDirectory() as tmp:
        # The services a batch uses: inference (batches) and vector_io (files).
        stack = LocalStack(local_distribution(Path(tmp), "inference", "vector_io"), state_dir=Path(tmp) / "state", free_ports=True, out=sys.stderr)
        with stack:
            worker_log = stack.state_dir / "logs" / "inference.log"
            worker = None
            if args.worker_process:
                worker_log = Path(tmp) / "worker.log"
                worker = start_worker(stack, worker_log)
            try:
                job = asyncio.run(job_latencies(stack, args.jobs, args.cancels))
                runs = asyncio.run(batch_vs_direct(stack, args.lines, args.max_tokens, args.rounds, in_flight, worker_log))
            finally:
                if worker is not None:
                    worker.terminate()
                    worker.wait(30)

    def row(name: str, values: list[float], unit: str, target: str) -> str:
        p50, p99 = statistics.median(values), percentile(values, 99)
        return f"{name:52} {p50:9.1f} {p99:9.1f} {unit:>4} {len(values):>4}  {target}"

    direct_s, batch_s = statistics.median(runs["direct"]), statistics.median(runs["batch"])
    requests_s = statistics.median(runs["batch requests"])
    print(f"\n{'measure':52} {'p50':>9} {'p99':>9} {'unit':>4} {'n':>4}  target")
    print(row("job submit call → handler start", job["submit call"], "ms", "p50 ≤ 50 ms"))
    print(row("job submit return → handler start", job["submit return"], "ms", ""))
    print(row("job submit call itself (insert + JetStream publish)", job["submit only"], "ms", ""))
    print(row("job cancel → handler sees cancel_requested", job["cancel seen"], "ms", "≤ 1000 ms"))
    print(row("job cancel → record cancelled", job["cancel recorded"], "ms", ""))
    print(row("batch cancel API call (gateway → inference)", runs["cancel call"], "ms", ""))
    print(row("batch cancel → its worker sees the cancel", runs["cancel seen"], "ms", "≤ 1000 ms"))
    print(row("batch cancel → batch cancelled (files written)", runs["cancel done"], "ms", ""))
    print(row(f"direct gRPC: {args.lines} chat requests, {in_flight} in flight", runs["direct"], "s", ""))
    print(row(f"batch: create → completed ({args.lines} lines)", runs["batch"], "s", ""))
    print(row("batch: its request phase only", runs["batch requests"], "s", ""))
    print(row("direct: one request, as the service served it", runs["direct request ms"], "ms", ""))
    print(row("batch: one request, as the service served it", runs["batch request ms"], "ms", ""))
    print(row("direct: request slots busy (of 8)", runs["direct slots busy"], "%", ""))
    print(row("batch: request slots busy in its request phase", runs["batch slots busy"], "%", ""))
    print(f"{'throughput ratio batch / direct (wall time direct / batch)':52} {direct_s / batch_s:9.3f} {'':9} {'':>4} {'':>4}  ≥ 0.95")
    print(f"{'  request phase only':52} {direct_s / requests_s:9.3f}")
    where = "a worker process of their own" if args.worker_process else "the inference service (in_process)"
    print(f"(max_tokens {args.max_tokens}; {args.rounds} rounds of each, interleaved; medians; batches run in {where})")
    if PROGRESS_SHORT:
        print(f"completed batches whose job progress ended short of the line count: {', '.join(PROGRESS_SHORT)}")


if __name__ == "__main__":
    main()
