"""Page sizes of every paged list through the gateway: the large `limit`s upstream clients send
are served (clamped to the list's maximum), and a `limit` below 1 is a 400 naming it."""

from __future__ import annotations

import io
import time

import httpx
import pytest

from stackmesh_common import paging
from tests.conftest import CHAT_MODEL
from tests.e2e.test_bad_input import error_of

HELLO = [{"role": "user", "content": "Say hi."}]
# Each paged list, its path (ids filled in from the `ids` fixture) and its page size.
LISTS = {
    "chat completions": ("/v1/chat/completions", paging.CHAT_COMPLETIONS),
    "chat completion messages": ("/v1/chat/completions/{completion}/messages", paging.CHAT_COMPLETION_MESSAGES),
    "files": ("/v1/files", paging.FILES),
    "vector stores": ("/v1/vector_stores", paging.VECTOR_STORES),
    "vector store files": ("/v1/vector_stores/{store}/files", paging.VECTOR_STORE_FILES),
    "file batch files": ("/v1/vector_stores/{store}/file_batches/{batch}/files", paging.VECTOR_STORE_FILES),
    "responses": ("/v1/responses", paging.RESPONSES),
    "response input items": ("/v1/responses/{response}/input_items", paging.RESPONSE_INPUT_ITEMS),
    "conversation items": ("/v1/conversations/{conversation}/items", paging.CONVERSATION_ITEMS),
}


def stored_completion(client, stack) -> str:
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=2)
    deadline = time.monotonic() + 10
    # Completions are stored off the hot path.
    while httpx.get(f"{stack.gateway_url}/v1/chat/completions/{completion.id}", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the completion was never stored"
        time.sleep(0.1)
    return completion.id


@pytest.fixture(scope="module")
def ids(client, stack) -> dict[str, str]:
    """One item in every list, so each list has something to page."""
    file = client.files.create(file=("paged.txt", io.BytesIO(b"Pages of a list.")), purpose="assistants")
    store = client.vector_stores.create(name="paged")
    batch = client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=[file.id])
    response = client.responses.create(model=CHAT_MODEL, input="Say hi.", max_output_tokens=16)
    conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "Hi."}])
    return {
        "completion": stored_completion(client, stack), "store": store.id, "batch": batch.id,
        "response": response.id, "conversation": conversation.id,
    }  # fmt: skip


def get_list(stack, ids: dict[str, str], name: str, limit: int) -> httpx.Response:
    path, _ = LISTS[name]
    return httpx.get(f"{stack.gateway_url}{path.format(**ids)}", params={"limit": limit}, timeout=60)


def test_llama_stack_clients_limit_of_1000_lists_chat_completions(client, stack, ids):
    """llama-stack-client lists chat completions with limit=1000."""
    page = client.chat.completions.list(limit=1000)
    assert ids["completion"] in {c.id for c in page.data}
    response = get_list(stack, ids, "chat completions", 1000)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list" and 1 <= len(body["data"]) <= 1000


@pytest.mark.parametrize("name", list(LISTS))
def test_a_limit_over_the_maximum_is_served_clamped(stack, ids, name):
    _, size = LISTS[name]
    response = get_list(stack, ids, name, size.maximum * 100)
    assert response.status_code == 200, response.text
    assert 1 <= len(response.json()["data"]) <= size.maximum


@pytest.mark.parametrize("name", list(LISTS))
@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_below_one_is_400_naming_limit(stack, ids, name, limit):
    response = get_list(stack, ids, name, limit)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == "limit" and error["type"] == "invalid_request_error"
    assert error["message"] == f"`limit` must be at least 1, got {limit}; a page holds at most {LISTS[name][1].maximum} items"
