"""Safe defaults of the inference service on the real stack: a registration cannot override
what the provider measured nor load more weights than the cap; stored chat completions can
be updated and deleted, and expire after their retention."""

from __future__ import annotations

import time
from typing import Iterator

import httpx
import pytest

from stackmesh_launcher.stack import LocalStack
from tests.conftest import CHAT_MODEL, start_local_stack
from tests.e2e.test_bad_input import error_of, post


def test_registered_metadata_cannot_override_the_reported_context_length(stack):
    body = {"model_id": "smol-huge-context", "provider_id": "llama-cpp", "provider_model_id": "smollm2-135m-instruct-q4_1",
            "metadata": {"context_length": 10_000_000}}  # fmt: skip
    response = post(stack, "/v1/models", json=body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == "metadata.context_length" and "provider reports 2048" in error["message"]
    assert httpx.get(f"{stack.gateway_url}/v1/models/smol-huge-context", timeout=30).status_code == 404
    # The seeded model sharing those weights still answers.
    chat = post(stack, "/v1/chat/completions", json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
    assert chat.status_code == 200, chat.text


RETENTION_S = 3.0


@pytest.fixture(scope="module")
def limits_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The local distribution holds two models' weights (SmolLM2, MiniLM): a cap of 2 is
    full. Stored completions live RETENTION_S."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STACKMESH_SERVICES__INFERENCE__SETTINGS__MAX_LOADED_MODELS", "2")
        patch.setenv("STACKMESH_SERVICES__INFERENCE__SETTINGS__STORED_COMPLETIONS__RETENTION_DAYS", str(RETENTION_S / 86400))
        patch.setenv("STACKMESH_SERVICES__INFERENCE__SETTINGS__STORED_COMPLETIONS__SWEEP_INTERVAL_S", "0.5")
        stack = start_local_stack(tmp_path_factory.mktemp("limits"))
    yield stack
    stack.stop()


def test_a_registration_past_the_loaded_model_cap_is_refused_before_loading(limits_stack):
    body = {"model_id": "another", "provider_id": "sentence-transformers", "provider_model_id": "all-mpnet-base-v2"}
    started = time.monotonic()
    response = post(limits_stack, "/v1/models", json=body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == "model_id" and "max_loaded_models" in error["message"]
    assert time.monotonic() - started < 2  # refused before any weights were read
    # A second name for weights already held loads nothing more: allowed.
    alias = {"model_id": "smol-again", "provider_id": "llama-cpp", "provider_model_id": "smollm2-135m-instruct-q4_1"}
    assert post(limits_stack, "/v1/models", json=alias).status_code == 200


def stored(stack: LocalStack, completion_id: str, timeout_s: float = 10) -> httpx.Response:
    """The stored completion once its writer has flushed it (it batches for 0.2 s)."""
    deadline = time.monotonic() + timeout_s
    while (response := httpx.get(f"{stack.gateway_url}/v1/chat/completions/{completion_id}", timeout=30)).status_code == 404:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.1)
    return response


def test_a_stored_completion_is_updated_and_deleted(client, stack):
    completion = client.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=4, store=True, metadata={"team": "red"}
    )
    assert stored(stack, completion.id).json()["metadata"] == {"team": "red"}
    updated = client.chat.completions.update(completion.id, metadata={"team": "blue", "stage": "test"})
    assert updated.id == completion.id and updated.metadata == {"team": "blue", "stage": "test"}
    assert client.chat.completions.retrieve(completion.id).metadata == {"team": "blue", "stage": "test"}
    too_many = post(stack, f"/v1/chat/completions/{completion.id}", json={"metadata": {f"k{i}": "v" for i in range(17)}})
    assert too_many.status_code == 400 and error_of(too_many)["param"] == "metadata"

    deleted = client.chat.completions.delete(completion.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (completion.id, "chat.completion.deleted", True)
    for method in ("GET", "DELETE"):
        gone = httpx.request(method, f"{stack.gateway_url}/v1/chat/completions/{completion.id}", timeout=30)
        assert gone.status_code == 404 and error_of(gone)["param"] == "completion_id"


def test_stored_completions_expire_after_their_retention(limits_stack):
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "store": True}
    completion = post(limits_stack, "/v1/chat/completions", json=body).json()
    stored(limits_stack, completion["id"])
    deadline = time.monotonic() + RETENTION_S + 5
    while httpx.get(f"{limits_stack.gateway_url}/v1/chat/completions/{completion['id']}", timeout=30).status_code != 404:
        assert time.monotonic() < deadline, "the completion outlived its retention"
        time.sleep(0.25)
