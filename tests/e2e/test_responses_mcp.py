"""`mcp` tools in the Responses API against a real MCP server process (the mcp SDK's server
over streamable HTTP and SSE): listing, calls, approvals, headers, failures, and the
streamed events checked against the openai SDK's event models."""

from __future__ import annotations

import json
import time
from typing import Iterator

import httpx
import openai
import pytest

from tests.conftest import CHAT_MODEL
from tests.e2e.test_responses import stream_events
from tests.support.mcp_server import McpServerProcess, hanging_server

WEATHER_ANSWER = "The weather in {} is sunny, 21 degrees Celsius."


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[McpServerProcess]:
    with McpServerProcess() as server:
        yield server


def mcp_tool(url: str, **extra) -> dict:
    return {"type": "mcp", "server_label": "weather", "server_url": url, "require_approval": "never", **extra}


def ask(client: openai.OpenAI, tools: list[dict], text: str = "What is the weather in Paris?", **extra) -> openai.types.responses.Response:
    return client.responses.create(
        model=CHAT_MODEL, input=text, tools=tools, tool_choice="required", max_output_tokens=48, temperature=0, **extra
    )


def test_the_model_calls_an_mcp_tool_and_answers_with_its_result(client, mcp_server):
    response = ask(client, [mcp_tool(mcp_server.url, allowed_tools=["get_weather"])], max_tool_calls=1)
    listing, call, *rest = response.output
    assert listing.type == "mcp_list_tools" and listing.server_label == "weather" and listing.error is None
    assert [tool.name for tool in listing.tools] == ["get_weather"]
    assert "city" in listing.tools[0].input_schema["properties"]
    assert call.type == "mcp_call" and call.name == "get_weather" and call.status == "completed" and call.error is None
    city = json.loads(call.arguments)["city"]
    assert call.output == WEATHER_ANSWER.format(city)
    # max_tool_calls=1: the model had to answer after the one call.
    assert [item.type for item in rest] == ["message"] and response.status in ("completed", "incomplete")
    stored = client.responses.retrieve(response.id)
    assert [item.type for item in stored.output] == ["mcp_list_tools", "mcp_call", "message"]


def test_streamed_mcp_events_follow_the_sdk_models(stack, mcp_server):
    """stream_events validates every event with the SDK's model of its type."""
    body = {
        "model": CHAT_MODEL, "input": "What is 2 plus 3?", "tools": [mcp_tool(mcp_server.url, allowed_tools=["add"])],
        "tool_choice": "required", "max_output_tokens": 96, "max_tool_calls": 1, "temperature": 0,
    }  # fmt: skip
    events = stream_events(stack, body)
    kinds = [event["type"] for event in events]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    listing = kinds.index("response.mcp_list_tools.in_progress")
    assert kinds[listing + 1] == "response.mcp_list_tools.completed"
    call = kinds.index("response.mcp_call_arguments.delta")
    assert kinds[call : call + 4] == [
        "response.mcp_call_arguments.delta", "response.mcp_call_arguments.done", "response.mcp_call.in_progress", "response.mcp_call.completed",
    ]  # fmt: skip
    done = [event["item"] for event in events if event["type"] == "response.output_item.done"]
    mcp_call = next(item for item in done if item["type"] == "mcp_call")
    arguments = json.loads(mcp_call["arguments"])
    assert mcp_call["output"] == str(arguments["a"] + arguments["b"])
    assert kinds[-1] == "response.completed" or kinds[-1] == "response.incomplete"


def test_the_sse_transport_and_the_authorization_header_reach_the_server(client):
    with McpServerProcess(transport="sse") as server:
        tool = mcp_tool(server.url, allowed_tools=["whoami"], authorization="secret-token", headers={"X-Team": "blue"})
        response = ask(client, [tool], text="Who am I?", max_tool_calls=1)
    call = next(item for item in response.output if item.type == "mcp_call")
    assert call.output == "Bearer secret-token"
    # Secrets are never echoed, nor stored.
    for echoed in (response.tools[0], client.responses.retrieve(response.id).tools[0]):
        shown = echoed.model_dump(exclude_none=True)
        assert shown["server_url"] == server.url and "authorization" not in shown and "headers" not in shown


def test_approval_holds_the_call_until_the_caller_approves_it(client, mcp_server):
    tools = [mcp_tool(mcp_server.url, allowed_tools=["get_weather"], require_approval="always")]
    asked = ask(client, tools, parallel_tool_calls=False)
    listing, request = asked.output
    assert listing.type == "mcp_list_tools" and request.type == "mcp_approval_request" and request.name == "get_weather"
    assert asked.status == "completed"

    approved = client.responses.create(
        model=CHAT_MODEL, previous_response_id=asked.id, tools=tools, tool_choice="none", max_output_tokens=48, temperature=0,
        input=[{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}],
    )  # fmt: skip
    # No second listing: the previous response's is reused.
    call, *rest = approved.output
    assert call.type == "mcp_call" and call.approval_request_id == request.id and call.output.startswith("The weather in ")
    assert rest and rest[0].type == "message"

    # The same request cannot be answered twice.
    again = httpx.post(
        f"{client.base_url}responses",
        json={"model": CHAT_MODEL, "previous_response_id": approved.id, "tools": tools,
              "input": [{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}]},
        timeout=30,
    )  # fmt: skip
    assert again.status_code == 400 and again.json()["error"]["param"] == "input[0].approval_request_id", again.text


def test_a_declined_call_never_runs(client, mcp_server):
    tools = [mcp_tool(mcp_server.url, allowed_tools=["get_weather"], require_approval={"always": {"tool_names": ["get_weather"]}})]
    asked = ask(client, tools, parallel_tool_calls=False)
    request = asked.output[-1]
    assert request.type == "mcp_approval_request"
    declined = client.responses.create(
        model=CHAT_MODEL, previous_response_id=asked.id, tools=tools, tool_choice="none", max_output_tokens=24,
        input=[{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": False, "reason": "not now"}],
    )  # fmt: skip
    assert [item.type for item in declined.output] == ["message"]


def test_a_tool_error_is_recorded_on_its_call_and_the_response_completes(client, mcp_server):
    response = ask(client, [mcp_tool(mcp_server.url, allowed_tools=["fail"])], text="Fail with the message boom.", max_tool_calls=1)
    call = next(item for item in response.output if item.type == "mcp_call")
    assert call.status == "failed" and call.output is None
    assert call.error.type == "mcp_tool_execution_error" and "Error executing tool fail" in call.error.content[0]["text"]
    assert response.status in ("completed", "incomplete") and response.output[-1].type == "message"


def test_a_server_that_dies_after_listing_fails_the_call_not_the_response(client):
    server = McpServerProcess()
    with server:
        tools = [mcp_tool(server.url, allowed_tools=["get_weather"], require_approval="always")]
        asked = ask(client, tools, parallel_tool_calls=False)
    request = asked.output[-1]
    began = time.monotonic()
    response = client.responses.create(
        model=CHAT_MODEL, previous_response_id=asked.id, tools=tools, max_output_tokens=24,
        input=[{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}],
    )  # fmt: skip
    call = response.output[0]
    assert call.type == "mcp_call" and call.status == "failed"
    assert call.error.type == "mcp_protocol_error" and "connection refused" in call.error.message
    assert response.status in ("completed", "incomplete") and time.monotonic() - began < 30


def test_a_hanging_server_fails_its_listing_within_the_connect_timeout(client):
    with hanging_server() as url:
        began = time.monotonic()
        response = client.responses.create(
            model=CHAT_MODEL, input="Hello.", tools=[mcp_tool(url)], max_output_tokens=16, temperature=0
        )
        elapsed = time.monotonic() - began
    listing = response.output[0]
    assert listing.type == "mcp_list_tools" and listing.tools == [] and "did not answer within 10 s" in listing.error
    assert response.output[-1].type == "message" and elapsed < 25


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ({"type": "mcp", "server_url": "http://localhost:1/mcp"}, "tools[0].server_label"),
        ({"type": "mcp", "server_label": "x"}, "tools[0].server_url"),
        ({"type": "mcp", "server_label": "x", "server_url": "file:///etc/passwd"}, "tools[0].server_url"),
        ({"type": "mcp", "server_label": "x", "connector_id": "connector_gmail"}, "tools[0].connector_id"),
        ({"type": "mcp", "server_label": "x", "server_url": "http://h/mcp", "require_approval": "sometimes"}, "tools[0].require_approval"),
        ({"type": "mcp", "server_label": "x", "server_url": "http://h/mcp", "allowed_tools": "add"}, "tools[0].allowed_tools"),
        ({"type": "mcp", "server_label": "x", "server_url": "http://h/mcp", "headers": {"X-N": 5}}, "tools[0].headers"),
    ],
)
def test_bad_mcp_tools_name_the_field(stack, tool, param):
    response = httpx.post(f"{stack.gateway_url}/v1/responses", json={"model": CHAT_MODEL, "input": "hi", "tools": [tool]}, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_an_approval_for_no_pending_request_is_rejected(stack):
    body = {"model": CHAT_MODEL, "input": [{"type": "mcp_approval_response", "approval_request_id": "mcpr_nowhere", "approve": True}]}
    response = httpx.post(f"{stack.gateway_url}/v1/responses", json=body, timeout=30)
    assert response.status_code == 400 and response.json()["error"]["param"] == "input[0].approval_request_id", response.text
