"""Background responses on the job runtime: `background: true` answers `queued` at once and the
response completes in a worker; cancel, watch and delete; and a worker killed mid-run whose
response another worker still completes."""

from __future__ import annotations

import signal
import time
from typing import Iterator

import httpx
import openai
import pytest

from stackmesh_launcher.stack import LocalStack
from tests.conftest import CHAT_MODEL, start_local_stack
from tests.support.watch import job_snapshots
from tests.support.workers import WorkerProcess

AGENTS_WORKER = "stackmesh_agents.worker"
UNFINISHED = ("queued", "in_progress")
# Long enough that a test can act while it runs (SmolLM2 writes ~100 tokens a second here).
LONG = {"input": "Write a long story about a dragon who learns to bake bread.", "max_output_tokens": 1500, "temperature": 0.8}


def settle(client: openai.OpenAI, response_id: str, timeout_s: float = 180) -> openai.types.responses.Response:
    deadline = time.monotonic() + timeout_s
    while (response := client.responses.retrieve(response_id)).status in UNFINISHED:
        assert time.monotonic() < deadline, f"{response_id} still {response.status}"
        time.sleep(0.2)
    return response


def until_status(client: openai.OpenAI, response_id: str, status: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while (current := client.responses.retrieve(response_id).status) != status:
        assert current in UNFINISHED and time.monotonic() < deadline, current
        time.sleep(0.05)


def watch(stack: LocalStack, response_id: str) -> list[dict]:
    return job_snapshots(f"{stack.gateway_url}/v1/responses/{response_id}:watch", read_timeout_s=180)


def test_a_background_response_is_queued_then_completed_by_a_worker(client, stack):
    created = client.responses.create(model=CHAT_MODEL, input="Say hello.", max_output_tokens=16, temperature=0, background=True)
    assert created.status == "queued" and created.background is True and created.output == []
    snapshots = watch(stack, created.id)
    assert snapshots[-1]["state"] == "JOB_STATE_COMPLETED" and snapshots[-1]["id"] == created.id
    done = settle(client, created.id)
    assert done.status in ("completed", "incomplete") and done.output_text and done.background is True
    assert done.usage.output_tokens > 0
    [item] = client.responses.input_items.list(created.id).data
    assert item.content[0].text == "Say hello."
    # A finished background response continues like any other.
    follow_up = client.responses.create(model=CHAT_MODEL, input="Again.", previous_response_id=created.id, max_output_tokens=16)
    assert follow_up.status in ("completed", "incomplete")


def test_cancel_stops_a_running_background_response(client, stack):
    created = client.responses.create(model=CHAT_MODEL, background=True, **LONG)
    until_status(client, created.id, "in_progress")
    # A running response cannot be continued yet.
    early = httpx.post(
        f"{stack.gateway_url}/v1/responses", json={"model": CHAT_MODEL, "input": "and?", "previous_response_id": created.id}, timeout=30
    )
    assert early.status_code == 400 and early.json()["error"]["param"] == "previous_response_id", early.text
    began = time.monotonic()
    cancelled = client.responses.cancel(created.id)
    assert cancelled.status == "cancelled" and time.monotonic() - began < 5
    assert watch(stack, created.id)[-1]["state"] == "JOB_STATE_CANCELLED"
    time.sleep(1)  # a worker that kept going would overwrite it by now
    assert client.responses.retrieve(created.id).status == "cancelled"
    assert client.responses.cancel(created.id).status == "cancelled"  # again: it stands


def test_deleting_a_running_background_response_cancels_it(client, stack):
    created = client.responses.create(model=CHAT_MODEL, background=True, **LONG)
    until_status(client, created.id, "in_progress")
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    time.sleep(1)  # the stopped worker must not store it again
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"background": True, "stream": True}, "stream"),
        ({"background": True, "store": False}, "store"),
    ],
)
def test_bad_background_requests_name_the_field(stack, body, param):
    response = httpx.post(f"{stack.gateway_url}/v1/responses", json={"model": CHAT_MODEL, "input": "hi", **body}, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_foreground_responses_cannot_be_cancelled_or_watched(client, stack):
    response = client.responses.create(model=CHAT_MODEL, input="Hi.", max_output_tokens=16)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.cancel(response.id)
    assert "background" in caught.value.message
    watched = httpx.get(f"{stack.gateway_url}/v1/responses/{response.id}:watch", timeout=30)
    assert watched.status_code == 400, watched.text


@pytest.fixture(scope="module")
def worker_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Background responses run only in worker processes the test starts and kills."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STACKMESH_SERVICES__AGENTS__SETTINGS__BACKGROUND__IN_PROCESS", "false")
        # A dead worker's response comes back after this many seconds.
        patch.setenv("STACKMESH_SERVICES__AGENTS__SETTINGS__BACKGROUND__ACK_WAIT_S", "3")
        stack = start_local_stack(tmp_path_factory.mktemp("agents-workers"))
    yield stack
    stack.stop()


def test_a_worker_killed_mid_response_loses_nothing(worker_stack, tmp_path):
    client = openai.OpenAI(base_url=f"{worker_stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=120)
    created = client.responses.create(model=CHAT_MODEL, background=True, **{**LONG, "max_output_tokens": 200})
    time.sleep(1)
    assert client.responses.retrieve(created.id).status == "queued"  # no worker runs yet

    first = WorkerProcess(AGENTS_WORKER, worker_stack, tmp_path / "first.log")
    try:
        started = first.wait_for("background response started", lambda e: e["response_id"] == created.id)
        time.sleep(0.5)
    finally:
        first.stop(signal.SIGKILL)
    assert started["attempt"] == 1
    assert client.responses.retrieve(created.id).status == "in_progress"

    second = WorkerProcess(AGENTS_WORKER, worker_stack, tmp_path / "second.log")
    try:
        finished = second.wait_for("background response finished", lambda e: e["response_id"] == created.id)
        [rerun] = second.events("background response started")
    finally:
        second.stop()
    assert rerun["attempt"] == 2
    done = client.responses.retrieve(created.id)
    assert done.status == finished["status"] and done.status in ("completed", "incomplete")
    assert done.output_text and done.usage.output_tokens > 0
