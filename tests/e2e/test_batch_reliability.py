"""Batches on the durable-jobs runtime under failure, on a real stack with batch workers as
processes of their own: a worker SIGKILLed at random points, NATS and then Postgres crashing
mid-batch, and a cancel. Each batch ends with exactly one result per custom_id."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import httpx
import openai
import pytest
import yaml

from stackmesh_launcher.stack import LocalStack
from tests.conftest import LOCAL_DISTRIBUTION, start_local_stack
from tests.e2e.test_batches import FINAL, chat_line, jsonl, upload
from tests.support.processes import component_pids
from tests.support.workers import WorkerProcess, json_lines

BATCH_WORKER = "stackmesh_inference.worker"

ACK_WAIT_S = 3
OVERRIDES = {
    # Batches run only in worker processes the tests start and kill.
    "STACKMESH_SERVICES__INFERENCE__SETTINGS__BATCHES__IN_PROCESS": "false",
    # A dead worker's batch comes back after this many seconds.
    "STACKMESH_SERVICES__INFERENCE__SETTINGS__BATCHES__ACK_WAIT_S": str(ACK_WAIT_S),
}
# Printed on failure: a failing run can be replayed with STACKMESH_TEST_SEED.
SEED = int(os.environ.get("STACKMESH_TEST_SEED", time.time_ns() % 1_000_000))


def distribution(directory: Path) -> Path:
    """local.yaml with the services a batch uses: inference (batches) and vector_io (files)."""
    data = yaml.safe_load(LOCAL_DISTRIBUTION.read_text())
    data["services"] = {name: data["services"][name] for name in ("inference", "vector_io")}
    path = directory / "batches.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def batch_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in OVERRIDES.items():
            patch.setenv(key, value)
        stack = start_local_stack(tmp_path_factory.mktemp("batch-stack"), distribution(tmp_path_factory.mktemp("distribution")))
    yield stack
    stack.stop()


def sdk(stack: LocalStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=60)


def epoch(ts: str) -> float:
    """The `ts` of a service log line (UTC, milliseconds) as seconds since the epoch."""
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


@pytest.fixture
def workers(batch_stack: LocalStack, tmp_path: Path) -> Iterator[Callable[[], WorkerProcess]]:
    """Starts workers (ready to take jobs) and stops whatever is left of them after the test."""
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        worker = WorkerProcess(BATCH_WORKER, batch_stack, tmp_path / f"worker-{len(started) + 1}.log")
        started.append(worker)
        worker.wait_for("job runner started")
        return worker

    yield start
    for worker in started:
        worker.stop(signal.SIGKILL)


class Watch(threading.Thread):
    """Follows `GET /v1/batches/{id}:watch` (SSE job snapshots) in the background, reconnecting
    when the stream breaks (a service's Postgres restarting), until the job is terminal."""

    def __init__(self, stack: LocalStack, batch_id: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{stack.gateway_url}/v1/batches/{batch_id}:watch"
        self.events: list[dict] = []
        self.breaks: list[str] = []
        self.changed = threading.Condition()
        self.closed = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.closed.is_set() and not self.terminal:
            try:
                with httpx.stream("GET", self.url, timeout=httpx.Timeout(10, read=15)) as response:
                    if response.status_code != 200:
                        self.breaks.append(f"HTTP {response.status_code}: {response.read()[:200]!r}")
                        time.sleep(0.2)
                        continue
                    for line in response.iter_lines():
                        if not line.startswith("data: "):
                            continue
                        event = json.loads(line[len("data: ") :])
                        if "error" in event:
                            self.breaks.append(f"in-band error: {event['error']}")
                            break
                        with self.changed:
                            self.events.append(event)
                            self.changed.notify_all()
                        if self.closed.is_set():
                            return
            except httpx.HTTPError as exc:
                self.breaks.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.2)

    @property
    def terminal(self) -> bool:
        return bool(self.events) and self.events[-1]["state"] in ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")

    @property
    def last(self) -> dict:
        return self.events[-1] if self.events else {}

    def wait(self, predicate: Callable[[dict], bool], timeout_s: float = 60) -> dict:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while True:
                if self.events and predicate(self.events[-1]):
                    return self.events[-1]
                left = deadline - time.monotonic()
                assert left > 0 and not self.terminal, f"watch ended at {self.last}; breaks: {self.breaks}"
                self.changed.wait(min(left, 0.5))

    def close(self) -> None:
        self.closed.set()
        self.join(20)


def completed(event: dict) -> int:
    return event.get("progress", {}).get("completed", 0)


def running(event: dict) -> bool:
    return event.get("state") == "JOB_STATE_IN_PROGRESS"


def retrieve(client: openai.OpenAI, batch_id: str, errors: list[str]):
    """GET the batch, retrying what a restarting dependency answers (recorded in `errors`)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return client.batches.retrieve(batch_id)
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            errors.append(f"{getattr(exc, 'status_code', '')} {exc}")
            assert time.monotonic() < deadline, errors
            time.sleep(0.3)


def wait_final(client: openai.OpenAI, batch_id: str, errors: list[str], timeout_s: float = 120):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = retrieve(client, batch_id, errors)
        if batch.status in FINAL:
            return batch
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} is still {batch.status}: {batch.request_counts}")


def create_batch(client: openai.OpenAI, lines: list[dict]):
    return client.batches.create(input_file_id=upload(client, lines), endpoint="/v1/chat/completions", completion_window="24h")


def assert_one_output_per_line(client: openai.OpenAI, done, custom_ids: list[str]) -> None:
    assert done.status == "completed", done
    counts = done.request_counts
    assert (counts.total, counts.completed, counts.failed) == (len(custom_ids), len(custom_ids), 0), counts
    assert done.error_file_id is None
    outputs = jsonl(client, done.output_file_id)
    assert sorted(o["custom_id"] for o in outputs) == sorted(custom_ids), "a result was lost or duplicated"
    assert len({o["id"] for o in outputs}) == len(outputs)
    for output in outputs:
        assert output["error"] is None and output["response"]["status_code"] == 200, output
        assert output["response"]["body"]["choices"][0]["message"]["content"] is not None


def test_a_worker_killed_at_five_random_points_loses_and_duplicates_nothing(batch_stack, workers):
    rng = random.Random(SEED)
    client = sdk(batch_stack)
    custom_ids = [f"kill-{i}" for i in range(50)]
    # Kill points: a random time into each delivery, so kills land at random phases of the
    # requests in flight; answers long enough that the batch outlives five of them.
    delays = [rng.uniform(0.5, 2.5) for _ in range(5)]
    worker = workers()
    batch = create_batch(client, [chat_line(c, f"Tell a story about number {i}", max_tokens=12) for i, c in enumerate(custom_ids)])
    watch = Watch(batch_stack, batch.id)
    kills = []
    try:
        for attempt, delay in enumerate(delays, start=1):
            watch.wait(lambda e: running(e) and e["attempts"] == attempt, timeout_s=90)
            time.sleep(delay)
            event = watch.last
            assert running(event) and event["attempts"] == attempt and completed(event) < len(custom_ids), (SEED, event)
            worker.stop(signal.SIGKILL)
            kills.append(retrieve(client, batch.id, []).request_counts.completed)
            worker = workers()
        done = wait_final(client, batch.id, [])
        watch.join(30)
    finally:
        watch.close()
    assert len(kills) == 5, (SEED, kills)
    assert_one_output_per_line(client, done, custom_ids)
    last = watch.last
    assert last["state"] == "JOB_STATE_COMPLETED" and completed(last) == len(custom_ids)
    # One delivery per kill, plus the one that finished: each kill was redelivered.
    assert last["attempts"] == 6, (SEED, kills, last)
    assert [e["attempts"] for e in watch.events] == sorted(e["attempts"] for e in watch.events)
    print(f"\nseed {SEED}: killed at {kills} of 50 completed lines; attempts {last['attempts']}")


def test_nats_then_postgres_crashing_mid_batch_needs_no_service_restart(batch_stack, workers):
    client = sdk(batch_stack)
    worker = workers()
    watched = ("inference", "vector_io", "gateway")
    before = component_pids(batch_stack, watched)
    custom_ids = [f"crash-{i}" for i in range(60)]
    batch = create_batch(client, [chat_line(c, f"Count to {i}", max_tokens=8) for i, c in enumerate(custom_ids)])
    watch = Watch(batch_stack, batch.id)
    errors: list[str] = []
    try:
        at_nats = completed(watch.wait(lambda e: running(e) and completed(e) >= 5))
        batch_stack.stop_component("nats", signal.SIGKILL)
        batch_stack.wait_ready("nats", timeout_s=60)
        # The batch goes on after NATS is back, on the same worker, with no service restarted.
        at_postgres = completed(watch.wait(lambda e: running(e) and completed(e) >= at_nats + 8, timeout_s=60))
        assert at_postgres < len(custom_ids)
        batch_stack.stop_component("postgres", signal.SIGKILL)
        batch_stack.wait_ready("postgres", timeout_s=60)
        done = wait_final(client, batch.id, errors)
        watch.join(30)
    finally:
        watch.close()
    assert worker.process.poll() is None, "the worker died"
    assert component_pids(batch_stack, watched) == before, "a service was restarted"
    assert_one_output_per_line(client, done, custom_ids)
    assert watch.last["state"] == "JOB_STATE_COMPLETED", watch.last
    # While Postgres restarted, reads were "retry" (503), never an internal error.
    assert not [e for e in errors if e.startswith("500")], errors
    print(f"\nNATS killed at {at_nats}/60, Postgres at {at_postgres}/60; attempts {watch.last['attempts']};"
          f" transient API errors: {len(errors)} {errors[:3]}; watch breaks: {watch.breaks[:3]}")


def test_a_cancel_mid_run_starts_no_further_requests(batch_stack, workers):
    client = sdk(batch_stack)
    worker = workers()
    lines = [chat_line(f"c{i}", "Write a long story about a dragon", max_tokens=48) for i in range(40)]
    began = time.time()
    batch = create_batch(client, lines)
    deadline = time.monotonic() + 90
    while client.batches.retrieve(batch.id).request_counts.completed < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # Same prompts, same lengths: requests finish in waves of 8. Cancel mid-wave.
    time.sleep(0.3)
    cancelling = client.batches.cancel(batch.id)
    acknowledged = time.time()
    assert cancelling.status in ("cancelling", "cancelled")
    at_cancel = cancelling.request_counts.completed
    done = wait_final(client, batch.id, [], timeout_s=30)
    stopped = time.time() - acknowledged
    assert done.status == "cancelled" and done.cancelled_at and done.cancelling_at
    assert stopped < 5
    noticed = worker.events(f"cancelling job {batch.id}")
    assert noticed, worker.log.read_text()[-3000:]
    noticed_at = epoch(noticed[0]["ts"])
    # The cancel reaches the worker over core NATS, not within the API call: at once, or
    # within a poll of the job's flag (1 s) when the broadcast was missed.
    assert noticed_at - acknowledged < 1.0

    # The inference service logs every call when it ends, with its duration: (began, ended, outcome).
    calls = [
        (epoch(e["ts"]) - e["ms"] / 1000, epoch(e["ts"]), e["outcome"])
        for e in json_lines(batch_stack.state_dir / "logs" / "inference.log")
        if e.get("msg") == "rpc" and e.get("method", "").endswith("/CreateChatCompletion") and epoch(e["ts"]) >= began
    ]
    # No request began once the cancel was acknowledged (and the worker had it; 50 ms for
    # one it sent just before to arrive), and none that began after the ack produced a result.
    late = [call for call in calls if call[0] > max(acknowledged, noticed_at) + 0.05]
    assert not late, f"requests began after the cancel was acknowledged at {acknowledged}: {late}"
    assert not [call for call in calls if call[0] > acknowledged and call[2] == "OK"]
    # Lines completed after the cancel can only be requests already running when it landed
    # (at most requests_in_flight, 8; their results may still have been on the way to Postgres).
    assert at_cancel <= done.request_counts.completed <= at_cancel + 8
    assert done.request_counts.completed <= sum(1 for call in calls if call[2] == "OK")
    outputs = jsonl(client, done.output_file_id)
    assert len(outputs) == done.request_counts.completed == len({o["custom_id"] for o in outputs})
    errors = jsonl(client, done.error_file_id)
    assert len(errors) == done.request_counts.failed == len(lines) - len(outputs)
    assert {e["error"]["code"] for e in errors} == {"batch_cancelled"}
    print(
        f"\ncompleted {at_cancel} at the cancel, {done.request_counts.completed} at the end; {len(calls)} requests,"
        f" the last began {acknowledged - max(call[0] for call in calls):.3f} s before the ack;"
        f" the worker had the cancel {noticed_at - acknowledged:+.3f} s after it; final after {stopped:.2f} s"
    )
