"""Chaos under load on a stack of its own: NATS and then Postgres crash (SIGKILL, restarted by
the launcher) while chats are stored, files uploaded and attached to a vector store (each an
ingestion job), and vector stores created. No service is restarted: they reconnect by
themselves; a request refused meanwhile is a 503 in the OpenAI envelope, never a 500; and every
write or job the API acknowledged is there at the end."""

from __future__ import annotations

import signal
import threading
import time
from typing import Callable, Iterator

import httpx
import pytest
import yaml

from stackmesh_launcher import state
from stackmesh_launcher.stack import LocalStack
from tests.conftest import CHAT_MODEL, LOCAL_DISTRIBUTION, start_local_stack
from tests.e2e.test_bad_input import error_of

# Seconds of load before NATS is killed, between its restart and Postgres's kill, and after.
BEFORE_S, BETWEEN_S, AFTER_S = 3.0, 3.0, 4.0
# Seconds the stored-chat writer and ingestion get to catch up once the load stops.
CATCH_UP_S = 60


@pytest.fixture(scope="module")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    data = yaml.safe_load(LOCAL_DISTRIBUTION.read_text())
    data["services"] = {name: data["services"][name] for name in ("inference", "vector_io")}
    path = tmp_path_factory.mktemp("distribution") / "chaos.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    stack = start_local_stack(tmp_path_factory.mktemp("chaos-stack"), path)
    yield stack
    stack.stop()


class Load(threading.Thread):
    """Runs `step` in a loop until stopped: each answer's status, and what each 200 acknowledged.
    `step` makes one request (or two: upload, then attach) and returns the refused response or
    the acknowledged id."""

    def __init__(self, name: str, gateway_url: str, step: Callable[[httpx.Client, int], httpx.Response | str]) -> None:
        super().__init__(name=name, daemon=True)
        self.gateway_url, self.step = gateway_url, step
        self.acknowledged: list[str] = []
        # (seconds since the load began, HTTP status or 0 for a broken connection, error code or text)
        self.answers: list[tuple[float, int, str]] = []
        self.stopping = threading.Event()
        self.began = time.monotonic()

    def run(self) -> None:
        with httpx.Client(base_url=self.gateway_url, timeout=60) as api:
            n = 0
            while not self.stopping.is_set():
                n += 1
                at = time.monotonic() - self.began
                try:
                    outcome = self.step(api, n)
                except httpx.TransportError as exc:
                    self.answers.append((at, 0, f"{type(exc).__name__}: {exc}"))
                    time.sleep(0.1)
                    continue
                if isinstance(outcome, str):
                    self.acknowledged.append(outcome)
                    self.answers.append((at, 200, ""))
                else:
                    self.answers.append((at, outcome.status_code, _code(outcome)))
                    time.sleep(0.1)

    def failures(self) -> list[tuple[float, int, str]]:
        return [answer for answer in self.answers if answer[1] != 200]


def _code(response: httpx.Response) -> str:
    try:
        return str(error_of(response)["code"])
    except Exception:
        return f"not an OpenAI error body: {response.text[:200]!r}"


def store_chat(api: httpx.Client, n: int) -> httpx.Response | str:
    chat = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": f"Say {n}."}], "max_tokens": 3, "store": True}
    response = api.post("/v1/chat/completions", json=chat)
    return response.json()["id"] if response.status_code == 200 else response


def create_store(api: httpx.Client, n: int) -> httpx.Response | str:
    response = api.post("/v1/vector_stores", json={"name": f"chaos-{n}"})
    return response.json()["id"] if response.status_code == 200 else response


def attach_file(store_id: str) -> Callable[[httpx.Client, int], httpx.Response | str]:
    def step(api: httpx.Client, n: int) -> httpx.Response | str:
        text = f"Record chaos{n} was written under load."
        uploaded = api.post("/v1/files", files={"file": (f"chaos-{n}.txt", text.encode())}, data={"purpose": "assistants"})
        if uploaded.status_code != 200:
            return uploaded
        file_id = uploaded.json()["id"]
        attached = api.post(f"/v1/vector_stores/{store_id}/files", json={"file_id": file_id})
        return f"{n}:{file_id}" if attached.status_code == 200 else attached

    return step


def pids(stack: LocalStack, names: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """name → (pid, restarts) from the launcher's stack.json."""
    record = state.read(stack.state_dir)
    assert record is not None
    return {c.name: (c.process.pid, c.restarts) for c in record.components if c.name in names}


def eventually(check: Callable[[], list], timeout_s: float) -> list:
    """Calls `check` until it returns no misses (or time is up); the last misses."""
    deadline = time.monotonic() + timeout_s
    while (missing := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return missing


def test_nats_then_postgres_crash_under_load_loses_no_acknowledged_write_or_job(chaos_stack: LocalStack):
    api = httpx.Client(base_url=chaos_stack.gateway_url, timeout=60)
    target = api.post("/v1/vector_stores", json={"name": "chaos-target"}).json()["id"]
    services = ("inference", "vector_io", "gateway")
    before = pids(chaos_stack, services)
    loads = [
        Load("chats", chaos_stack.gateway_url, store_chat),
        Load("attachments", chaos_stack.gateway_url, attach_file(target)),
        Load("stores", chaos_stack.gateway_url, create_store),
    ]
    for load in loads:
        load.start()
    try:
        time.sleep(BEFORE_S)
        chaos_stack.stop_component("nats", signal.SIGKILL)
        chaos_stack.wait_ready("nats", timeout_s=60)
        time.sleep(BETWEEN_S)
        chaos_stack.stop_component("postgres", signal.SIGKILL)
        chaos_stack.wait_ready("postgres", timeout_s=60)
        time.sleep(AFTER_S)
    finally:
        for load in loads:
            load.stopping.set()
        for load in loads:
            load.join(60)
    report = {load.name: (len(load.acknowledged), load.failures()) for load in loads}
    print(f"\nacknowledged and refused per load: {report}")

    assert pids(chaos_stack, services) == before, "a service was restarted"
    for load in loads:
        # Refusals only while a dependency was away, each a 503 with an OpenAI error body.
        assert {status for _, status, _ in load.failures()} <= {503}, (load.name, load.failures())
        assert not [code for _, _, code in load.failures() if code.startswith("not an OpenAI")], load.failures()
        # It recovered by itself: the load's last answers are successes again.
        assert len(load.acknowledged) >= 5 and [status for _, status, _ in load.answers[-3:]] == [200] * 3, (load.name, load.answers[-5:])

    chats, attachments, stores = (load.acknowledged for load in loads)

    def unstored_chats() -> list[str]:
        return [chat for chat in chats if api.get(f"/v1/chat/completions/{chat}").status_code != 200]

    def missing_stores() -> list[str]:
        return [store for store in stores if api.get(f"/v1/vector_stores/{store}").status_code != 200]

    def uningested() -> list[str]:
        done, after = set(), None
        while True:
            listed = api.get(f"/v1/vector_stores/{target}/files", params={"limit": 100, "filter": "completed", **({"after": after} if after else {})})
            if listed.status_code != 200:
                return attachments
            page = listed.json()
            done |= {f["id"] for f in page["data"]}
            if not page["has_more"]:
                return [a for a in attachments if a.split(":")[1] not in done]
            after = page["last_id"]

    assert eventually(unstored_chats, CATCH_UP_S) == [], "an acknowledged stored chat completion was lost"
    assert missing_stores() == [], "an acknowledged vector store was lost"
    assert eventually(uningested, CATCH_UP_S) == [], "an acknowledged attachment was never ingested"
    # Ingested once each, and searchable: every file's own token finds exactly that file.
    for attachment in attachments[:: max(1, len(attachments) // 5)]:
        n, file_id = attachment.split(":")
        hits = api.post(f"/v1/vector_stores/{target}/search", json={"query": f"chaos{n}", "search_mode": "keyword"}).json()["data"]
        assert [hit["file_id"] for hit in hits] == [file_id], (attachment, hits)
    api.close()
