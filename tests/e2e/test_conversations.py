"""OpenAI Conversations through the gateway with the unmodified openai SDK: conversations, their
items in order and in pages, and bad input answered in OpenAI's error envelope."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.test_bad_input import error_of

ITEMS = [
    {"role": "user", "content": "What is the capital of France?"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Paris."}]},
    {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city": "Paris"}'},
    {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And of Italy?"}]},
]


def texts(items) -> list[str]:
    """Each item's text, or the call_id of a function call and its output."""
    return [item.content[0].text if item.type == "message" else f"{item.type}:{item.call_id}" for item in items]


def test_a_conversation_is_created_with_items_retrieved_updated_and_deleted(client, stack):
    conversation = client.conversations.create(items=ITEMS, metadata={"topic": "capitals"})
    assert conversation.id.startswith("conv_") and conversation.object == "conversation"
    assert conversation.created_at > 0 and conversation.metadata == {"topic": "capitals"}
    assert client.conversations.retrieve(conversation.id) == conversation

    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.type for item in items] == ["message", "message", "function_call", "function_call_output", "message"]
    question, answer, call, output, _ = items
    # String content becomes one input_text part; an assistant's text is output_text.
    assert (question.role, question.content[0].type, question.status) == ("user", "input_text", "completed")
    assert question.id.startswith("msg_")
    assert (answer.role, answer.content[0].type, answer.content[0].text) == ("assistant", "output_text", "Paris.")
    assert (call.name, call.arguments, call.call_id) == ("weather", '{"city": "Paris"}', "call_1")
    assert (output.call_id, output.output) == ("call_1", "sunny")

    updated = client.conversations.update(conversation.id, metadata={"topic": "geography", "level": "easy"})
    assert updated.id == conversation.id and updated.metadata == {"topic": "geography", "level": "easy"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "geography", "level": "easy"}

    deleted = client.conversations.delete(conversation.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (conversation.id, "conversation.deleted", True)
    with pytest.raises(openai.NotFoundError) as caught:
        client.conversations.retrieve(conversation.id)
    assert caught.value.param == "conversation_id" and conversation.id in caught.value.message
    # Its items went with it.
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(question.id, conversation_id=conversation.id)


def test_an_empty_conversation_has_no_items(client):
    conversation = client.conversations.create()
    assert conversation.metadata == {}
    page = client.conversations.items.list(conversation.id)
    assert (page.data, page.has_more) == ([], False)


def test_items_list_newest_first_by_default_and_page_with_after(client):
    conversation = client.conversations.create(items=ITEMS)
    oldest_first = client.conversations.items.list(conversation.id, order="asc").data
    assert texts(oldest_first) == [
        "What is the capital of France?",
        "Paris.",
        "function_call:call_1",
        "function_call_output:call_1",
        "And of Italy?",
    ]
    newest_first = client.conversations.items.list(conversation.id)
    assert [item.id for item in newest_first.data] == [item.id for item in reversed(oldest_first)]
    assert (newest_first.first_id, newest_first.last_id) == (oldest_first[-1].id, oldest_first[0].id)

    first = client.conversations.items.list(conversation.id, order="asc", limit=2)
    assert [item.id for item in first.data] == [item.id for item in oldest_first[:2]] and first.has_more
    assert first.last_id == oldest_first[1].id
    second = client.conversations.items.list(conversation.id, order="asc", limit=2, after=first.last_id)
    assert [item.id for item in second.data] == [item.id for item in oldest_first[2:4]] and second.has_more
    last = client.conversations.items.list(conversation.id, order="asc", limit=2, after=second.last_id)
    assert [item.id for item in last.data] == [oldest_first[4].id] and not last.has_more
    backwards = client.conversations.items.list(conversation.id, order="desc", limit=2, after=oldest_first[2].id)
    assert [item.id for item in backwards.data] == [oldest_first[1].id, oldest_first[0].id] and not backwards.has_more
    # The SDK's auto-pagination follows last_id and has_more through every page.
    assert [item.id for item in client.conversations.items.list(conversation.id, limit=2)] == [
        item.id for item in reversed(oldest_first)
    ]


def test_items_are_added_retrieved_and_deleted(client, stack):
    conversation = client.conversations.create(items=ITEMS[:1])
    added = client.conversations.items.create(
        conversation.id,
        items=[
            {"type": "message", "role": "assistant", "content": "Paris."},
            {"role": "user", "content": [{"type": "input_text", "text": "Thanks!"}]},
        ],
    )
    assert added.object == "list" and not added.has_more
    assert texts(added.data) == ["Paris.", "Thanks!"]
    assert (added.first_id, added.last_id) == (added.data[0].id, added.data[1].id)
    listed = client.conversations.items.list(conversation.id, order="asc").data
    assert texts(listed) == ["What is the capital of France?", "Paris.", "Thanks!"]
    assert listed[1:] == added.data

    reply = client.conversations.items.retrieve(added.data[0].id, conversation_id=conversation.id)
    assert reply == added.data[0] and reply.role == "assistant" and reply.content[0].type == "output_text"

    response = httpx.delete(f"{stack.gateway_url}/v1/conversations/{conversation.id}/items/{reply.id}", timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": reply.id, "object": "conversation.item.deleted", "deleted": True}
    assert texts(client.conversations.items.list(conversation.id, order="asc").data) == ["What is the capital of France?", "Thanks!"]
    with pytest.raises(openai.NotFoundError) as caught:
        client.conversations.items.retrieve(reply.id, conversation_id=conversation.id)
    assert caught.value.param == "item_id" and reply.id in caught.value.message
    with pytest.raises(openai.NotFoundError) as caught:
        client.conversations.items.delete(reply.id, conversation_id=conversation.id)
    assert caught.value.param == "item_id"


MESSAGE = {"role": "user", "content": "hi"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"items": [MESSAGE] * 21}, "items"),
        ({"items": [MESSAGE, {"type": "reasoning", "summary": []}]}, "items[1].type"),
        ({"items": [{"role": "robot", "content": "hi"}]}, "items[0].role"),
        ({"items": [{"role": "user", "content": [{"type": "audio", "data": "…"}]}]}, "items[0].content[0].type"),
        ({"items": [{"type": "function_call_output", "output": "x"}]}, "items[0].call_id"),
        ({"items": [{"role": "user", "content": "hi", "status": 7}]}, "items[0]"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
    ],
)
def test_a_bad_conversation_is_a_400_naming_the_field(stack, body, param):
    response = httpx.post(f"{stack.gateway_url}/v1/conversations", json=body, timeout=30)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == param and error["type"] == "invalid_request_error", error


def test_bad_items_to_add_are_a_400_and_add_nothing(client):
    conversation = client.conversations.create(items=[MESSAGE])
    for items, param in [([MESSAGE] * 21, "items"), ([], "items"), ([MESSAGE, {"type": "nope"}], "items[1].type")]:
        with pytest.raises(openai.BadRequestError) as caught:
            client.conversations.items.create(conversation.id, items=items)
        assert caught.value.param == param
    assert len(client.conversations.items.list(conversation.id).data) == 1


def test_bad_paging_is_a_400_naming_the_param(stack, client):
    conversation = client.conversations.create(items=[MESSAGE])
    url = f"{stack.gateway_url}/v1/conversations/{conversation.id}/items"
    for params, param in [({"limit": 0}, "limit"), ({"order": "sideways"}, "order")]:
        response = httpx.get(url, params=params, timeout=30)
        assert response.status_code == 400, response.text
        assert error_of(response)["param"] == param
    # A limit above the maximum is clamped, as every list's; `include` is accepted.
    response = httpx.get(url, params={"limit": 1000, "include": "message.output_text.logprobs"}, timeout=30)
    assert response.status_code == 200, response.text


def test_an_unknown_conversation_is_a_404_naming_it(client, stack):
    calls = [
        lambda: client.conversations.retrieve("conv_missing"),
        lambda: client.conversations.update("conv_missing", metadata={"a": "b"}),
        lambda: client.conversations.delete("conv_missing"),
        lambda: client.conversations.items.list("conv_missing"),
        lambda: client.conversations.items.create("conv_missing", items=[MESSAGE]),
        lambda: client.conversations.items.retrieve("msg_missing", conversation_id="conv_missing"),
        lambda: client.conversations.items.delete("msg_missing", conversation_id="conv_missing"),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError) as caught:
            call()
        assert caught.value.param == "conversation_id" and caught.value.code == "conversation_not_found"
        assert "conv_missing" in caught.value.message
    response = httpx.get(f"{stack.gateway_url}/v1/conversations/conv_missing", timeout=30)
    assert response.status_code == 404 and error_of(response)["param"] == "conversation_id"
