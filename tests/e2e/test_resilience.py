"""Failures on a stack of the module's own, in this order: NATS and then Postgres crash under
load (SIGKILL, restarted by the launcher) while chats are stored, files uploaded and attached to
a vector store (each an ingestion job) and vector stores created — no service restarts, each
reconnects by itself, a request refused meanwhile is a 503 in the OpenAI envelope, and every
write or job the API acknowledged is there at the end; then the inference service killed and
drained mid-stream — the gateway answers promptly and streams never end silently."""

from __future__ import annotations

import signal
import threading
import time
from typing import Callable, Iterator

import httpx
import openai
import pytest

from stackmesh_launcher.stack import LocalStack
from tests.conftest import CHAT_MODEL, start_local_stack
from tests.e2e.test_bad_input import error_of
from tests.support.processes import component_pids

LONG = [{"role": "user", "content": "Write a very long story about a dragon and a knight."}]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The whole local distribution; its tests crash NATS, Postgres and inference, in that order
    (the last one, the drain, leaves inference down)."""
    stack = start_local_stack(tmp_path_factory.mktemp("resilience"))
    yield stack
    stack.stop()


def sdk(stack: LocalStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=60)


# Seconds of load before NATS is killed, between its restart and Postgres's kill, and after.
BEFORE_S, BETWEEN_S, AFTER_S = 3.0, 3.0, 4.0
# Seconds the stored-chat writer and ingestion get to catch up once the load stops.
CATCH_UP_S = 60
# One call to each service family after the crashes.
SMOKE = [
    ("GET", "/v1/models", None),
    ("GET", "/v1/shields", None),
    ("POST", "/v1/conversations", {"items": [{"type": "message", "role": "user", "content": "still here?"}]}),
    ("GET", "/v1alpha/eval/benchmarks", None),
    ("GET", "/v1alpha/post-training/jobs", None),
]


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


def eventually(check: Callable[[], list], timeout_s: float) -> list:
    """Calls `check` until it returns no misses (or time is up); the last misses."""
    deadline = time.monotonic() + timeout_s
    while (missing := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return missing


def test_nats_then_postgres_crash_under_load_loses_no_acknowledged_write_or_job(own_stack: LocalStack):
    api = httpx.Client(base_url=own_stack.gateway_url, timeout=60)
    target = api.post("/v1/vector_stores", json={"name": "chaos-target"}).json()["id"]
    # Every service, worker and the gateway: none may need a restart.
    services = tuple(name for name in own_stack.components if name not in ("postgres", "nats"))
    before = component_pids(own_stack, services)
    loads = [
        Load("chats", own_stack.gateway_url, store_chat),
        Load("attachments", own_stack.gateway_url, attach_file(target)),
        Load("stores", own_stack.gateway_url, create_store),
    ]
    for load in loads:
        load.start()
    try:
        time.sleep(BEFORE_S)
        own_stack.stop_component("nats", signal.SIGKILL)
        own_stack.wait_ready("nats", timeout_s=60)
        time.sleep(BETWEEN_S)
        own_stack.stop_component("postgres", signal.SIGKILL)
        own_stack.wait_ready("postgres", timeout_s=60)
        time.sleep(AFTER_S)
    finally:
        for load in loads:
            load.stopping.set()
        for load in loads:
            load.join(60)
    report = {load.name: (len(load.acknowledged), load.failures()) for load in loads}
    print(f"\nacknowledged and refused per load: {report}")

    assert component_pids(own_stack, services) == before, "a service was restarted"
    # Each service reconnected by itself: each API family answers, reads and writes.
    for method, path, body in SMOKE:
        response = api.request(method, path, json=body)
        assert response.status_code == 200, (path, response.text)
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


def test_killed_service_mid_stream_is_an_error_not_a_clean_end(own_stack):
    """SIGKILL leaves no chance to send an error event; the client still sees a failure."""
    stream = sdk(own_stack).chat.completions.create(model=CHAT_MODEL, messages=LONG, max_tokens=1500, stream=True)
    received = 0
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        for _ in stream:
            received += 1
            if received == 3:
                own_stack.stop_component("inference", signal.SIGKILL)
    assert received >= 3
    # The launcher restarts it (the drain test below needs it).
    own_stack.wait_ready("inference")


def test_drain_mid_stream_raises_in_the_sdk_then_dead_service_is_503(own_stack):
    """SIGTERM mid-stream: an in-band error event makes the SDK raise (no silent truncation);
    afterwards the gateway answers 503 at once instead of hanging."""
    stream = sdk(own_stack).chat.completions.create(model=CHAT_MODEL, messages=LONG, max_tokens=1500, stream=True)
    received = 0
    with pytest.raises(openai.APIError, match="shutting down"):
        for chunk in stream:
            received += 1
            if received == 3:
                own_stack.stop_component("inference", signal.SIGTERM)
    assert received >= 3

    deadline = time.monotonic() + 30
    while True:  # the service exits after draining
        started = time.perf_counter()
        response = httpx.post(
            f"{own_stack.gateway_url}/v1/chat/completions", json={"model": CHAT_MODEL, "messages": LONG}, timeout=30
        )
        elapsed = time.perf_counter() - started
        if response.status_code == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 503
    assert elapsed < 2.0
    error = response.json()["error"]
    assert error["code"] == "service_unavailable" and "inference" in error["message"]
