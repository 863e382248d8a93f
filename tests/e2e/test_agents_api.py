"""Llama Stack's agents API through the gateway, on the Responses agent loop: streamed and plain
turns with their steps, client tools paused and resumed, builtin::rag over a real vector store,
an MCP tool group, an input shield, the stored agents, sessions, turns and steps, and bad input
named by field. SmolLM2 makes tool calls through constrained generation (tool_choice required)."""

from __future__ import annotations

import json
import time
from typing import Iterator

import grpc
import httpx
import pytest

from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh.agents.v1 import agents_service_pb2_grpc as pb_grpc
from tests.conftest import CHAT_MODEL
from tests.e2e.test_bad_input import error_of
from tests.support.mcp_server import McpServerProcess

AGENTS = "/v1alpha/agents"
GREEDY = {"strategy": {"type": "greedy"}, "max_tokens": 64}
WEATHER = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]},
}
OTTERS = b"Sea otters hold hands while they sleep so the current does not part them."
EVENT_TYPES = {"turn_start", "step_start", "step_progress", "step_complete", "turn_complete", "turn_awaiting_input"}


@pytest.fixture(scope="module")
def api(stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=120) as client:
        yield client


def create_agent(api: httpx.Client, **config) -> str:
    body = {"model": CHAT_MODEL, "instructions": "Answer briefly.", "sampling_params": GREEDY, **config}
    response = api.post(AGENTS, json={"agent_config": body})
    assert response.status_code == 200, response.text
    return response.json()["agent_id"]


def create_session(api: httpx.Client, agent_id: str, name: str = "test") -> str:
    response = api.post(f"{AGENTS}/{agent_id}/session", json={"session_name": name})
    assert response.status_code == 200, response.text
    return response.json()["session_id"]


def turn(api: httpx.Client, agent_id: str, session_id: str, text: str, **extra) -> dict:
    response = api.post(f"{AGENTS}/{agent_id}/session/{session_id}/turn", json={"messages": [{"role": "user", "content": text}], **extra})
    assert response.status_code == 200, response.text
    return response.json()


def stream(api: httpx.Client, path: str, body: dict) -> list[dict]:
    """The payloads of a streamed turn, checked for Llama Stack's chunk shape: `"stream": true`
    on the turn's path, which the gateway routes to its `:stream` binding."""
    payloads = []
    with api.stream("POST", path, json={**body, "stream": True}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    for line in lines[:-1]:
        chunk = json.loads(line.removeprefix("data: "))
        assert set(chunk) == {"event"} and set(chunk["event"]) == {"payload"}, chunk
        payloads.append(chunk["event"]["payload"])
    assert {p["event_type"] for p in payloads} <= EVENT_TYPES
    return payloads


def check_step_order(payloads: list[dict]) -> list[dict]:
    """Each step starts, progresses and completes before the next starts; returns the completed steps."""
    open_step, steps = None, []
    for payload in payloads:
        kind = payload["event_type"]
        if kind == "step_start":
            assert open_step is None, payload
            open_step = payload["step_id"]
        elif kind == "step_progress":
            assert payload["step_id"] == open_step and payload["step_type"] == "inference", payload
        elif kind == "step_complete":
            assert payload["step_id"] == open_step == payload["step_details"]["step_id"], payload
            assert payload["step_type"] == payload["step_details"]["step_type"]
            open_step = None
            steps.append(payload["step_details"])
    assert open_step is None
    return steps


def test_streamed_turn_events_follow_llama_stack_order(api):
    agent_id = create_agent(api)
    session_id = create_session(api, agent_id)
    payloads = stream(api, f"{AGENTS}/{agent_id}/session/{session_id}/turn", {"messages": [{"role": "user", "content": "Count to three."}]})
    kinds = [p["event_type"] for p in payloads]
    assert kinds[0] == "turn_start" and kinds[1] == "step_start" and kinds[-2:] == ["step_complete", "turn_complete"]
    assert set(kinds[2:-2]) == {"step_progress"}
    steps = check_step_order(payloads)
    [inference] = steps
    text = "".join(p["delta"]["text"] for p in payloads if p["event_type"] == "step_progress")
    response = inference["model_response"]
    assert text and (response["role"], response["content"], response["tool_calls"]) == ("assistant", text, [])
    assert response["stop_reason"] in ("end_of_turn", "out_of_tokens")
    final = payloads[-1]["turn"]
    assert final["turn_id"] == payloads[0]["turn_id"] == inference["turn_id"] and final["session_id"] == session_id
    assert final["steps"] == steps and final["output_message"]["content"] == text and final["completed_at"]
    assert final["input_messages"] == [{"role": "user", "content": "Count to three."}]
    stored = api.get(f"{AGENTS}/{agent_id}/session/{session_id}/turn/{final['turn_id']}").json()
    assert stored == final


def test_grpc_callers_stream_typed_chunks(stack, api, agent_and_session):
    agent_id, session_id = agent_and_session
    request = pb.CreateTurnRequest(agent_id=agent_id, session_id=session_id)
    request.messages.add(role="user").content.string_value = "Say hi."
    with grpc.insecure_channel(stack.service_address("agents")) as channel:
        chunks = list(pb_grpc.AgentsServiceStub(channel).StreamTurn(request, timeout=120))
    kinds = [chunk.event.payload.event_type for chunk in chunks]
    assert kinds[0] == "turn_start" and kinds[-1] == "turn_complete"
    turn = chunks[-1].event.payload.turn
    assert turn.turn_id == chunks[0].event.payload.turn_id and turn.steps[0].step_type == "inference"
    assert api.get(f"{AGENTS}/{agent_id}/session/{session_id}/turn/{turn.turn_id}").status_code == 200


def test_the_stream_binding_serves_the_same_events(api, agent_and_session):
    agent_id, session_id = agent_and_session
    body = {"messages": [{"role": "user", "content": "Say hi."}]}
    with api.stream("POST", f"{AGENTS}/{agent_id}/session/{session_id}/turn:stream", json=body) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    kinds = [event["event"]["payload"]["event_type"] for event in events]
    assert kinds[0] == "turn_start" and kinds[-1] == "turn_complete"


def test_plain_turns_chain_the_session_through_stored_responses(api):
    agent_id = create_agent(api)
    session_id = create_session(api, agent_id)
    first = turn(api, agent_id, session_id, "My name is Ada.")
    second = turn(api, agent_id, session_id, "What is my name?")
    assert [s["step_type"] for s in first["steps"]] == ["inference"] and first["output_message"]["content"]
    assert second["turn_id"] != first["turn_id"]
    session = api.get(f"{AGENTS}/{agent_id}/session/{session_id}").json()
    assert session["session_name"] == "test" and [t["turn_id"] for t in session["turns"]] == [first["turn_id"], second["turn_id"]]
    only = api.get(f"{AGENTS}/{agent_id}/session/{session_id}", params={"turn_ids": second["turn_id"]}).json()
    assert [t["turn_id"] for t in only["turns"]] == [second["turn_id"]]
    # The second turn's response continues the first's: the model saw the whole session.
    responses = api.get("/v1/responses", params={"limit": 20}).json()["data"]
    chained = next(r for r in responses if r["input"][0]["content"][0]["text"] == "What is my name?")
    previous = api.get(f"/v1/responses/{chained['previous_response_id']}").json()
    assert previous["output"][0]["content"][0]["text"] == first["output_message"]["content"]


def test_a_client_tool_pauses_the_turn_until_resumed(api):
    """With two inference calls per turn, the resumed turn's one call left must answer."""
    agent_id = create_agent(api, client_tools=[WEATHER], tool_config={"tool_choice": "required"}, max_infer_iters=2)
    session_id = create_session(api, agent_id)
    paused = turn(api, agent_id, session_id, "What is the weather in Paris?")
    calls = paused["output_message"]["tool_calls"]  # the model may call it more than once
    assert calls and all(call["tool_name"] == "get_weather" and json.loads(call["arguments"])["city"] for call in calls)
    assert paused["steps"][0]["model_response"]["tool_calls"] == calls
    assert paused["output_message"]["stop_reason"] == "end_of_message" and "completed_at" not in paused
    assert [s["step_type"] for s in paused["steps"]] == ["inference"]
    resume = f"{AGENTS}/{agent_id}/session/{session_id}/turn/{paused['turn_id']}/resume"

    for body, param in (
        ({"tool_responses": []}, "tool_responses"),
        ({"tool_responses": [{"call_id": "call_other", "tool_name": "get_weather", "content": "x"}]}, "tool_responses[0].call_id"),
    ):
        response = api.post(resume, json=body)
        assert response.status_code == 400 and error_of(response)["param"] == param, response.text

    answers = [{"call_id": call["call_id"], "tool_name": "get_weather", "content": "Sunny, 24 degrees Celsius."} for call in calls]
    payloads = stream(api, resume, {"tool_responses": answers})
    steps = check_step_order(payloads)
    assert payloads[0] == {"event_type": "step_start", "step_type": "tool_execution", "step_id": steps[0]["step_id"]}
    assert steps[0]["tool_calls"] == calls and steps[0]["tool_responses"] == answers
    assert [s["step_type"] for s in steps] == ["tool_execution", "inference"]
    final = payloads[-1]
    assert final["event_type"] == "turn_complete" and final["turn"]["turn_id"] == paused["turn_id"]
    assert [s["step_id"] for s in final["turn"]["steps"]] == [paused["steps"][0]["step_id"], *(s["step_id"] for s in steps)]
    assert final["turn"]["output_message"]["tool_calls"] == [] and final["turn"]["completed_at"]

    again = api.post(resume, json={"tool_responses": answers})
    assert again.status_code == 400 and error_of(again)["param"] == "turn_id", again.text


def test_the_deprecated_v1_binding_and_a_tool_message_answer_a_paused_turn(api):
    agent_id = create_agent(api, client_tools=[WEATHER], tool_config={"tool_choice": "required"})
    session_id = create_session(api, agent_id)
    paused = api.post(f"/v1/agents/{agent_id}/session/{session_id}/turn", json={"messages": [{"role": "user", "content": "Weather in Rome?"}]}).json()
    calls = paused["output_message"]["tool_calls"]
    # Llama Stack's older way: a new turn carrying the tool's answers (tool_choice is per turn).
    messages = [{"role": "tool", "call_id": call["call_id"], "content": "Rainy."} for call in calls]
    answered = api.post(f"/v1/agents/{agent_id}/session/{session_id}/turn", json={"messages": messages, "tool_config": {"tool_choice": "none"}})
    assert answered.status_code == 200, answered.text
    assert answered.json()["input_messages"] == messages and answered.json()["output_message"]["tool_calls"] == []


@pytest.fixture(scope="module")
def otter_store(client) -> tuple[str, str]:
    uploaded = client.files.create(file=("otters.txt", OTTERS), purpose="assistants")
    store = client.vector_stores.create(name="agent-otters", file_ids=[uploaded.id])
    deadline = time.monotonic() + 60
    while client.vector_stores.files.retrieve(uploaded.id, vector_store_id=store.id).status != "completed":
        assert time.monotonic() < deadline, "ingestion did not finish"
        time.sleep(0.2)
    return store.id, uploaded.id


def test_the_rag_tool_group_searches_the_vector_store_in_a_tool_execution_step(api, otter_store):
    store_id, file_id = otter_store
    agent_id = create_agent(
        api, toolgroups=[{"name": "builtin::rag/knowledge_search", "args": {"vector_db_ids": [store_id]}}],
        tool_config={"tool_choice": "required"}, max_infer_iters=2, sampling_params={**GREEDY, "max_tokens": 96},
    )  # fmt: skip
    session_id = create_session(api, agent_id)
    payloads = stream(api, f"{AGENTS}/{agent_id}/session/{session_id}/turn", {"messages": [{"role": "user", "content": "Why do sea otters hold hands?"}]})
    steps = check_step_order(payloads)
    assert [s["step_type"] for s in steps][:2] == ["inference", "tool_execution"]
    [call] = steps[0]["model_response"]["tool_calls"]
    assert call["tool_name"] == "knowledge_search" and json.loads(call["arguments"])["query"]
    search = steps[1]
    assert search["tool_calls"] == [call] and search["tool_responses"][0]["call_id"] == call["call_id"]
    assert search["tool_responses"][0]["metadata"]["document_ids"][0] == file_id
    assert search["tool_responses"][0]["metadata"]["filenames"][0] == "otters.txt"
    assert "hold hands" in search["tool_responses"][0]["content"][0]["text"]
    assert payloads[-1]["event_type"] == "turn_complete" and payloads[-1]["turn"]["steps"] == steps


@pytest.fixture(scope="module")
def mcp_group(api) -> Iterator[str]:
    with McpServerProcess(transport="streamable-http") as server:
        group = "mcp::agents-tools"
        body = {"toolgroup_id": group, "provider_id": "model-context-protocol", "mcp_endpoint": {"uri": server.url}}
        response = api.post("/v1/toolgroups", json=body)
        assert response.status_code == 200, response.text
        yield group
        api.delete(f"/v1/toolgroups/{group}")


def test_an_mcp_tool_group_runs_its_tool_in_a_tool_execution_step(api, mcp_group):
    agent_id = create_agent(api, toolgroups=[f"{mcp_group}/get_weather"], tool_config={"tool_choice": "required"}, max_infer_iters=2)
    session_id = create_session(api, agent_id)
    done = turn(api, agent_id, session_id, "What is the weather in Paris?")
    assert [s["step_type"] for s in done["steps"]][:2] == ["inference", "tool_execution"]
    [call] = done["steps"][0]["model_response"]["tool_calls"]
    assert call["tool_name"] == "get_weather" and json.loads(call["arguments"])["city"]
    [result] = done["steps"][1]["tool_responses"]
    assert result["call_id"] == call["call_id"] and "sunny, 21 degrees" in result["content"]


@pytest.fixture(scope="module")
def blocking_shield(api) -> str:
    """The PII shield at `error` level, which blocks (the seeded one only redacts)."""
    body = {"shield_id": "pii-block-agents", "provider_id": "pii", "params": {"violation_level": "error"}}
    response = api.post("/v1/shields", json=body)
    assert response.status_code == 200, response.text
    return "pii-block-agents"


def test_an_input_shield_violation_is_a_shield_call_step(api, blocking_shield):
    agent_id = create_agent(api, input_shields=[blocking_shield])
    session_id = create_session(api, agent_id)
    payloads = stream(api, f"{AGENTS}/{agent_id}/session/{session_id}/turn", {"messages": [{"role": "user", "content": "My email is ada@example.com."}]})
    assert [p["event_type"] for p in payloads] == ["turn_start", "step_start", "step_complete", "turn_complete"]
    [shield] = check_step_order(payloads)
    assert shield["step_type"] == "shield_call" and shield["violation"]["violation_level"] == "error"
    assert "personal data" in shield["violation"]["user_message"]
    assert payloads[-1]["turn"]["output_message"]["content"] == shield["violation"]["user_message"]


def test_agents_sessions_turns_and_steps_are_listed_read_and_deleted(api):
    first, second = create_agent(api, name="first"), create_agent(api, name="second")
    listed = api.get(AGENTS, params={"limit": 1000}).json()
    assert not listed["has_more"] and {first, second} <= {a["agent_id"] for a in listed["data"]}
    ids = [a["agent_id"] for a in listed["data"]]
    page = api.get(AGENTS, params={"start_index": ids.index(first), "limit": 1}).json()
    assert [a["agent_id"] for a in page["data"]] == [first] and page["has_more"]
    agent = api.get(f"/v1/agents/{first}").json()
    assert agent["agent_config"]["name"] == "first" and agent["agent_config"]["model"] == CHAT_MODEL and agent["created_at"]

    sessions = [create_session(api, first, name) for name in ("a", "b")]
    listed = api.get(f"{AGENTS}/{first}/sessions").json()
    assert [s["session_id"] for s in listed["data"]] == sessions and [s["session_name"] for s in listed["data"]] == ["a", "b"]
    done = turn(api, first, sessions[0], "Say hello.")
    step = done["steps"][0]
    path = f"{AGENTS}/{first}/session/{sessions[0]}/turn/{done['turn_id']}"
    assert api.get(f"{path}/step/{step['step_id']}").json() == {"step": step}

    assert api.delete(f"{AGENTS}/{first}/session/{sessions[0]}").status_code == 200
    for gone, param in ((f"{AGENTS}/{first}/session/{sessions[0]}", "session_id"), (path, "session_id")):
        response = api.get(gone)
        assert response.status_code == 404 and error_of(response)["param"] == param, response.text
    assert api.delete(f"{AGENTS}/{first}").status_code == 200
    for gone in (f"{AGENTS}/{first}", f"{AGENTS}/{first}/session/{sessions[1]}", f"{AGENTS}/{first}/sessions"):
        response = api.get(gone)
        assert response.status_code == 404 and error_of(response)["param"] == "agent_id", response.text
    assert api.get(f"{AGENTS}/{second}").status_code == 200


@pytest.mark.parametrize(
    "config, status, param",
    [
        ({"model": ""}, 400, "agent_config.model"),
        ({"model": "no-such-model"}, 404, "agent_config.model"),
        ({"toolgroups": ["no::such-group"]}, 404, "agent_config.toolgroups[0]"),
        ({"toolgroups": [{"args": {}}]}, 400, "agent_config.toolgroups[0]"),
        ({"toolgroups": ["builtin::rag"]}, 400, "agent_config.toolgroups[0].args.vector_db_ids"),
        ({"toolgroups": [{"name": "builtin::rag", "args": {"vector_db_ids": ["vs_missing"]}}]}, 404, "agent_config.toolgroups[0].args.vector_db_ids"),
        ({"input_shields": ["no-such-shield"]}, 404, "agent_config.input_shields[0]"),
        ({"output_shields": ["no-such-shield"]}, 404, "agent_config.output_shields[0]"),
        ({"client_tools": [{"name": "no spaces"}]}, 400, "agent_config.client_tools[0].name"),
        ({"client_tools": [{"name": "f", "input_schema": {"type": 5}}]}, 400, "agent_config.client_tools[0].input_schema"),
        ({"tool_config": {"tool_choice": "required"}}, 400, "agent_config.tool_config.tool_choice"),
        ({"client_tools": [WEATHER], "tool_choice": "absent"}, 400, "agent_config.tool_choice"),
        ({"sampling_params": {"strategy": {"type": "beam"}}}, 400, "agent_config.sampling_params.strategy.type"),
        ({"sampling_params": {"strategy": {"type": "top_p", "temperature": 3}}}, 400, "agent_config.sampling_params.strategy.temperature"),
        ({"sampling_params": {"strategy": {"type": "greedy"}, "max_tokens": 4}}, 400, "agent_config.sampling_params.max_tokens"),
        ({"max_infer_iters": 0}, 400, "agent_config.max_infer_iters"),
        ({"response_format": {"type": "grammar", "bnf": {}}}, 400, "agent_config.response_format.type"),
        ({"response_format": {"type": "json_schema"}}, 400, "agent_config.response_format"),
    ],
)
def test_bad_agent_configs_name_the_field(api, config, status, param):
    body = {"model": CHAT_MODEL, "instructions": "x", **config}
    response = api.post(AGENTS, json={"agent_config": body})
    assert response.status_code == status, response.text
    assert error_of(response)["param"] == param


@pytest.fixture(scope="module")
def agent_and_session(api) -> tuple[str, str]:
    agent_id = create_agent(api)
    return agent_id, create_session(api, agent_id)


@pytest.mark.parametrize(
    "body, status, param",
    [
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, 400, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, 400, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, 400, "messages[0].content[0]"),
        ({"messages": [{"role": "tool", "content": "x"}]}, 400, "messages[0].call_id"),
        ({"messages": [{"role": "tool", "call_id": "call_nowhere", "content": "x"}]}, 400, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "documents": [{"content": {"uri": "http://x"}, "mime_type": "text/plain"}]}, 400, "documents[0].content"),
        ({"messages": [{"role": "user", "content": "x"}], "toolgroups": ["no::such-group"]}, 404, "toolgroups[0]"),
        ({"messages": [{"role": "user", "content": "x"}], "tool_config": {"tool_choice": "required"}}, 400, "tool_config.tool_choice"),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
def test_bad_turns_name_the_field(api, agent_and_session, body, status, param, streamed):
    agent_id, session_id = agent_and_session
    path = f"{AGENTS}/{agent_id}/session/{session_id}/turn{':stream' if streamed else ''}"
    response = api.post(path, json={**body, "stream": streamed})
    assert response.status_code == status, response.text
    assert error_of(response)["param"] == param


def test_unknown_or_foreign_ids_are_404_naming_them(api, agent_and_session):
    agent_id, session_id = agent_and_session
    other = create_agent(api)
    message = {"messages": [{"role": "user", "content": "hi"}]}
    for method, path, body, param in (
        ("GET", f"{AGENTS}/missing", None, "agent_id"),
        ("DELETE", f"{AGENTS}/missing", None, "agent_id"),
        ("POST", f"{AGENTS}/missing/session", {"session_name": "x"}, "agent_id"),
        ("POST", f"{AGENTS}/{agent_id}/session", {"session_name": ""}, "session_name"),
        ("POST", f"{AGENTS}/missing/session/{session_id}/turn", message, "agent_id"),
        ("POST", f"{AGENTS}/{other}/session/{session_id}/turn", message, "session_id"),
        ("GET", f"{AGENTS}/{agent_id}/session/missing", None, "session_id"),
        ("DELETE", f"{AGENTS}/{agent_id}/session/missing", None, "session_id"),
        ("GET", f"{AGENTS}/{agent_id}/session/{session_id}/turn/missing", None, "turn_id"),
        ("POST", f"{AGENTS}/{agent_id}/session/{session_id}/turn/missing/resume", {"tool_responses": []}, "turn_id"),
        ("GET", f"{AGENTS}/{agent_id}/sessions?limit=0", None, "limit"),
        ("GET", f"{AGENTS}?start_index=-1", None, "start_index"),
    ):
        response = api.request(method, path, json=body)
        assert response.status_code in (400, 404) and error_of(response)["param"] == param, (path, response.text)
    done = turn(api, agent_id, session_id, "Say hi.")
    response = api.get(f"{AGENTS}/{agent_id}/session/{session_id}/turn/{done['turn_id']}/step/missing")
    assert response.status_code == 404 and error_of(response)["param"] == "step_id", response.text
