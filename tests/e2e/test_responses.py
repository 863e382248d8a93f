"""The OpenAI Responses API through the gateway with the openai SDK: text, streaming event
sequences checked against the SDK's own event models, function tools continued by
previous_response_id and by a conversation, file_search over a real vector store, storage,
and bad input. SmolLM2 makes tool calls through constrained generation."""

from __future__ import annotations

import json
import time
import typing
from concurrent.futures import ThreadPoolExecutor

import httpx
import jsonschema
import openai
import pytest
from openai.types.responses import ResponseStreamEvent

from tests.conftest import CHAT_MODEL

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]},
}
# The SDK's model of each event type: the union inside ResponseStreamEvent, by `type` literal.
EVENT_MODELS = {
    kind: model
    for model in typing.get_args(typing.get_args(ResponseStreamEvent)[0])
    for kind in typing.get_args(model.model_fields["type"].annotation)
}
TERMINAL = ("response.completed", "response.incomplete")


def ask_weather(client: openai.OpenAI, **extra) -> openai.types.responses.Response:
    return client.responses.create(
        model=CHAT_MODEL, input="What is the weather in Paris?", tools=[WEATHER], tool_choice="required",
        parallel_tool_calls=False, max_output_tokens=64, temperature=0, **extra,
    )


def test_text_response_is_stored_listed_and_deleted(client, stack):
    response = client.responses.create(model=CHAT_MODEL, input="Say hello.", instructions="Answer briefly.", max_output_tokens=16, temperature=0)
    assert response.status in ("completed", "incomplete") and response.output_text
    assert response.output[0].type == "message" and response.output[0].role == "assistant"
    assert response.usage.input_tokens > 0 and 0 < response.usage.output_tokens <= 16
    assert response.instructions == "Answer briefly."

    assert client.responses.retrieve(response.id).output_text == response.output_text
    [item] = client.responses.input_items.list(response.id).data
    assert item.type == "message" and item.role == "user" and item.content[0].text == "Say hello."
    listed = httpx.get(f"{stack.gateway_url}/v1/responses", params={"limit": 100}, timeout=30).json()
    assert response.id in [r["id"] for r in listed["data"]]
    assert next(r for r in listed["data"] if r["id"] == response.id)["input"][0]["content"][0]["text"] == "Say hello."

    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(response.id)
    assert caught.value.param == "response_id"


def stream_events(stack, body: dict) -> list[dict]:
    """The raw SSE events of a streamed response, each validated by the SDK's event models."""
    events = []
    with httpx.stream("POST", f"{stack.gateway_url}/v1/responses", json={**body, "stream": True}, timeout=120) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                event = json.loads(line.removeprefix("data: "))
                # Strict validation: a field the SDK's model needs is missing or mistyped.
                EVENT_MODELS[event["type"]].model_validate(event)
                events.append(event)
    return events


def test_streamed_text_events_follow_openai_order(stack):
    events = stream_events(stack, {"model": CHAT_MODEL, "input": "Count to three.", "max_output_tokens": 24, "temperature": 0})
    kinds = [e["type"] for e in events]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert kinds[-4:-1] == ["response.output_text.done", "response.content_part.done", "response.output_item.done"]
    assert kinds[-1] in TERMINAL and set(kinds[4:-4]) == {"response.output_text.delta"}
    final = events[-1]["response"]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text and text == events[-4]["text"] == final["output"][0]["content"][0]["text"]


def test_sdk_stream_parses_every_event_and_matches_the_stored_response(client):
    with client.responses.stream(model=CHAT_MODEL, input="Name a colour.", max_output_tokens=16, temperature=0) as stream:
        events = list(stream)
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    final = events[-1].response  # completed, or incomplete at max_output_tokens
    assert events[-1].type in TERMINAL
    assert "".join(deltas) == final.output_text
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_function_call_round_trip_via_previous_response_id(client):
    first = ask_weather(client)
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id
    jsonschema.validate(json.loads(call.arguments), WEATHER["parameters"])
    answer = client.responses.create(
        model=CHAT_MODEL, previous_response_id=first.id, tools=[WEATHER], tool_choice="none", max_output_tokens=16,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 24 degrees Celsius."}],
    )
    assert answer.output[0].type == "message" and answer.output_text
    assert answer.previous_response_id == first.id


def test_function_call_round_trip_via_a_conversation(client):
    conversation = client.conversations.create(metadata={"topic": "weather"})
    first = ask_weather(client, conversation=conversation.id)
    [call] = first.output
    answer = client.responses.create(
        model=CHAT_MODEL, conversation=conversation.id, tools=[WEATHER], tool_choice="none", max_output_tokens=16,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 24 degrees Celsius."}],
    )
    assert answer.output_text and answer.conversation.id == conversation.id
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [i.type for i in items] == ["message", "function_call", "function_call_output", "message"]
    assert items[1].call_id == items[2].call_id == call.call_id


def test_streamed_function_call_events(stack):
    events = stream_events(
        stack, {"model": CHAT_MODEL, "input": "Weather in Rome?", "tools": [WEATHER], "tool_choice": "required",
                "parallel_tool_calls": False, "max_output_tokens": 64, "temperature": 0},
    )
    kinds = [e["type"] for e in events]
    assert kinds[2] == "response.output_item.added" and events[2]["item"]["type"] == "function_call"
    assert "response.function_call_arguments.delta" in kinds
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["name"] == "get_weather"
    assert done["arguments"] == "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    assert events[-1]["type"] == "response.completed" and events[-1]["response"]["output"][0]["arguments"] == done["arguments"]


@pytest.fixture(scope="module")
def otter_store(client):
    uploaded = client.files.create(file=("otters.txt", b"Sea otters hold hands while they sleep so the current does not part them."), purpose="assistants")
    store = client.vector_stores.create(name="otters", file_ids=[uploaded.id])
    deadline = time.monotonic() + 60
    while client.vector_stores.files.retrieve(uploaded.id, vector_store_id=store.id).status != "completed":
        assert time.monotonic() < deadline, "ingestion did not finish"
        time.sleep(0.2)
    return store, uploaded


def test_file_search_answers_with_a_citation_of_the_file(client, otter_store):
    store, uploaded = otter_store
    response = client.responses.create(
        model=CHAT_MODEL, input="Why do sea otters hold hands?", max_output_tokens=96, temperature=0,
        tools=[{"type": "file_search", "vector_store_ids": [store.id], "max_num_results": 3}], tool_choice={"type": "file_search"},
        max_tool_calls=1, include=["file_search_call.results"],
    )
    assert len(response.output) == 2, response.model_dump_json(indent=1)
    search, message = response.output
    assert search.type == "file_search_call" and search.status == "completed" and search.queries
    assert search.results[0].file_id == uploaded.id and "hold hands" in search.results[0].text
    assert message.type == "message" and message.content[0].text
    assert [(a.type, a.file_id) for a in message.content[0].annotations] == [("file_citation", uploaded.id)]


def test_streamed_file_search_events(stack, otter_store):
    store, _ = otter_store
    events = stream_events(
        stack, {"model": CHAT_MODEL, "input": "What do otters do when they sleep?", "max_output_tokens": 96, "temperature": 0,
                "tools": [{"type": "file_search", "vector_store_ids": [store.id]}], "tool_choice": {"type": "file_search"}, "max_tool_calls": 1},
    )
    kinds = [e["type"] for e in events]
    start = kinds.index("response.file_search_call.in_progress")
    assert kinds[start - 1 : start + 4] == [
        "response.output_item.added", "response.file_search_call.in_progress", "response.file_search_call.searching",
        "response.file_search_call.completed", "response.output_item.done",
    ]
    assert "response.output_text.annotation.added" in kinds and kinds[-1] in TERMINAL


def test_32_concurrent_responses_with_tools_all_succeed(client):
    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(lambda _: ask_weather(client), range(32)))
    assert all(r.status == "completed" and r.output[0].type == "function_call" for r in responses)
    assert len({r.id for r in responses}) == 32


@pytest.mark.parametrize(
    "extra, status, param",
    [
        ({"previous_response_id": "resp_missing"}, 404, "previous_response_id"),
        ({"conversation": "conv_missing"}, 404, "conversation"),
        ({"model": "no-such-model"}, 404, "model"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_missing"]}]}, 404, "tools[0].vector_store_ids"),
        ({"tools": [{"type": "function", "name": "no spaces"}]}, 400, "tools[0].name"),
        ({"tools": [{"type": "function", "name": "f", "parameters": {"type": 5}}]}, 400, "tools[0].parameters"),
        ({"tools": [{"type": "computer_use"}]}, 400, "tools[0].type"),
        ({"tool_choice": {"type": "function", "name": "absent"}}, 400, "tool_choice"),
        ({"previous_response_id": "resp_x", "conversation": "conv_x"}, 400, "conversation"),
        ({"input": [{"type": "function_call_output", "call_id": "call_nowhere", "output": "x"}]}, 400, "input"),
        ({"input": [{"role": "wizard", "content": "x"}]}, 400, "input[0].role"),
        ({"input": ""}, 400, "input"),
        ({"max_output_tokens": 4}, 400, "max_output_tokens"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, 400, "text.format.schema"),
        ({"background": True, "store": False}, 400, "store"),
        ({"background": True, "model": "no-such-model"}, 404, "model"),
    ],
)
def test_bad_requests_name_the_field(stack, extra, status, param):
    body = {"model": CHAT_MODEL, "input": "hi", **extra}
    response = httpx.post(f"{stack.gateway_url}/v1/responses", json=body, timeout=60)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param


@pytest.fixture(scope="module")
def blocking_pii_shield(stack) -> str:
    """The PII shield at `error` level: a guardrail blocks on it (the seeded one only redacts)."""
    body = {"shield_id": "pii-block", "provider_id": "pii", "params": {"violation_level": "error"}}
    response = httpx.post(f"{stack.gateway_url}/v1/shields", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return "pii-block"


def test_an_input_guardrail_violation_ends_with_a_refusal(client, blocking_pii_shield):
    response = client.responses.create(
        model=CHAT_MODEL, input="My email is ada@example.com, remember it.", max_output_tokens=16,
        extra_body={"guardrails": [blocking_pii_shield]},
    )
    [message] = response.output
    assert response.status == "completed" and message.type == "message"
    assert message.content[0].type == "refusal" and "personal data" in message.content[0].refusal
    assert client.responses.retrieve(response.id).output[0].content[0].type == "refusal"


def test_input_past_the_guardrails_limits_is_a_400_naming_input(client, blocking_pii_shield):
    """The safety service checks at most 64 Ki characters per message."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=CHAT_MODEL, input="word " * 14_000, max_output_tokens=16, extra_body={"guardrails": [blocking_pii_shield]})
    assert caught.value.param == "input" and "pii-block" in caught.value.message and "65536" in caught.value.message.replace(",", "")


CONTACT = {"type": "object", "properties": {"contact": {"type": "string", "enum": ["ada@example.com"]}}, "required": ["contact"]}


def test_an_output_guardrail_holds_back_and_refuses_the_answer(stack, blocking_pii_shield):
    """The schema forces an e-mail address into the answer; the input itself is clean."""
    events = stream_events(
        stack, {"model": CHAT_MODEL, "input": "Who do I contact for support?", "max_output_tokens": 64, "temperature": 0,
                "text": {"format": {"type": "json_schema", "name": "contact", "schema": CONTACT}},
                "guardrails": [{"type": blocking_pii_shield}]},
    )
    kinds = [e["type"] for e in events]
    assert "response.output_text.delta" not in kinds  # nothing of the blocked answer was streamed
    assert kinds[2:8] == [
        "response.output_item.added", "response.content_part.added", "response.refusal.delta",
        "response.refusal.done", "response.content_part.done", "response.output_item.done",
    ]
    final = events[-1]["response"]
    assert events[-1]["type"] in TERMINAL and final["output"][0]["content"][0]["type"] == "refusal"


def test_a_passing_guardrail_keeps_the_answer(client):
    response = client.responses.create(model=CHAT_MODEL, input="Say hello.", max_output_tokens=16, temperature=0, extra_body={"guardrails": ["pii"]})
    assert response.output[0].content[0].type == "output_text" and response.output_text


def test_an_unknown_guardrail_is_404_naming_it(stack):
    body = {"model": CHAT_MODEL, "input": "hi", "guardrails": ["no-such-shield"]}
    response = httpx.post(f"{stack.gateway_url}/v1/responses", json=body, timeout=60)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["param"] == "guardrails[0]"


def test_a_stored_prompt_with_variables_leads_the_response(client, stack):
    created = httpx.post(
        f"{stack.gateway_url}/v1/prompts", json={"prompt": "You are a {{ persona }}. Answer in one sentence.", "variables": ["persona"]}, timeout=30
    )
    assert created.status_code == 200, created.text
    prompt_id = created.json()["prompt_id"]
    prompted = client.responses.create(
        model=CHAT_MODEL, input="Say hello.", max_output_tokens=16, temperature=0,
        prompt={"id": prompt_id, "variables": {"persona": "pirate captain"}},
    )
    assert prompted.prompt.id == prompt_id and prompted.output_text
    # The rendered template reached the model as the system message: the same greedy answer as
    # with that text given as instructions.
    instructed = client.responses.create(
        model=CHAT_MODEL, input="Say hello.", max_output_tokens=16, temperature=0,
        instructions="You are a pirate captain. Answer in one sentence.",
    )
    assert (prompted.usage.input_tokens, prompted.output_text) == (instructed.usage.input_tokens, instructed.output_text)

    for prompt, param in ((({"id": prompt_id, "variables": {}}), "prompt.variables"), ({"id": "pmpt_missing"}, "prompt.id")):
        response = httpx.post(f"{stack.gateway_url}/v1/responses", json={"model": CHAT_MODEL, "input": "hi", "prompt": prompt}, timeout=30)
        assert response.status_code in (400, 404) and response.json()["error"]["param"] == param, response.text
