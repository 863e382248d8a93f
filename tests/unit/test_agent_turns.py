"""Agent turns on the Responses loop: the loop's events (recorded from the running stack, trimmed)
become Llama Stack steps and stream payloads; an agent's config and a turn's messages become a
create-response request whose errors name the agents API's fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackmesh_common.errors import InvalidArgument, NotFound
from stackmesh_agents.agent_requests import (
    Rename,
    SourcedTool,
    ToolgroupRef,
    client_tools,
    input_items,
    mcp_tool,
    pending_calls,
    rag_tool,
    remaining_iters,
    renamed,
    response_request,
    resume_items,
    toolgroup_refs,
)
from stackmesh_agents.turn_steps import TurnSteps

Json = dict[str, Any]

TEXT = [
    {"type": "response.output_item.added", "item": {"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant", "content": []}},
    {"type": "response.content_part.added", "item_id": "msg_1", "part": {"type": "output_text", "text": "", "annotations": []}},
    {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Hello"},
    {"type": "response.output_text.delta", "item_id": "msg_1", "delta": " there!"},
    {"type": "response.output_text.done", "item_id": "msg_1", "text": "Hello there!"},
    {"type": "response.content_part.done", "item_id": "msg_1", "part": {"type": "output_text", "text": "Hello there!", "annotations": []}},
    {"type": "response.output_item.done", "item": {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                                                   "content": [{"type": "output_text", "text": "Hello there!", "annotations": []}]}},
]  # fmt: skip
CALL_DONE = {"type": "function_call", "id": "fc_1", "status": "completed", "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
CLIENT_CALL = [
    {"type": "response.output_item.added", "item": {**CALL_DONE, "status": "in_progress", "arguments": ""}},
    {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": '{"city": "Paris"}'},
    {"type": "response.function_call_arguments.done", "item_id": "fc_1", "arguments": '{"city": "Paris"}', "name": "get_weather"},
    {"type": "response.output_item.done", "item": CALL_DONE},
]
SEARCH_DONE = {
    "type": "file_search_call", "id": "fs_1", "status": "completed", "queries": ["otters"],
    "results": [{"file_id": "file-1", "filename": "otters.txt", "score": 0.8, "text": "Sea otters hold hands while they sleep."}],
}  # fmt: skip
FILE_SEARCH = [
    {"type": "response.output_item.added", "item": {"type": "file_search_call", "id": "fs_1", "status": "in_progress", "queries": ["otters"]}},
    {"type": "response.file_search_call.in_progress", "item_id": "fs_1"},
    {"type": "response.file_search_call.searching", "item_id": "fs_1"},
    {"type": "response.file_search_call.completed", "item_id": "fs_1"},
    {"type": "response.output_item.done", "item": SEARCH_DONE},
]
REFUSAL_TEXT = "The conversation contains personal data or secrets (email)."
REFUSAL = [
    {"type": "response.output_item.added", "item": {"type": "message", "id": "msg_2", "status": "in_progress", "role": "assistant", "content": []}},
    {"type": "response.content_part.added", "item_id": "msg_2", "part": {"type": "refusal", "refusal": ""}},
    {"type": "response.refusal.delta", "item_id": "msg_2", "delta": REFUSAL_TEXT},
    {"type": "response.refusal.done", "item_id": "msg_2", "refusal": REFUSAL_TEXT},
    {"type": "response.content_part.done", "item_id": "msg_2", "part": {"type": "refusal", "refusal": REFUSAL_TEXT}},
    {"type": "response.output_item.done", "item": {"type": "message", "id": "msg_2", "status": "completed", "role": "assistant",
                                                   "content": [{"type": "refusal", "refusal": REFUSAL_TEXT}]}},
]  # fmt: skip
MCP_CALL = {"type": "mcp_call", "id": "mcp_1", "status": "in_progress", "name": "get_weather", "arguments": '{"city": "Paris"}', "server_label": "tools"}
MCP = [
    {"type": "response.output_item.added", "item": {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "tools", "tools": []}},
    {"type": "response.mcp_list_tools.in_progress", "item_id": "mcpl_1"},
    {"type": "response.mcp_list_tools.completed", "item_id": "mcpl_1"},
    {"type": "response.output_item.done", "item": {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "tools", "tools": []}},
    {"type": "response.output_item.added", "item": MCP_CALL},
    {"type": "response.mcp_call_arguments.delta", "item_id": "mcp_1", "delta": '{"city": "Paris"}'},
    {"type": "response.mcp_call_arguments.done", "item_id": "mcp_1", "arguments": '{"city": "Paris"}'},
    {"type": "response.mcp_call.in_progress", "item_id": "mcp_1"},
    {"type": "response.mcp_call.completed", "item_id": "mcp_1"},
    {"type": "response.output_item.done", "item": {**MCP_CALL, "status": "completed", "output": "The weather in Paris is sunny."}},
]


def output_of(events: list[Json]) -> list[Json]:
    return [event["item"] for event in events if event["type"] == "response.output_item.done"]


def run(steps: TurnSteps, events: list[Json], status: str = "completed") -> tuple[list[Json], bool]:
    """Feeds the events, then the terminal response built from them, as the servicer does."""
    payloads = [payload for event in events for payload in steps.feed(event)]
    ending, awaiting = steps.end({"status": status, "output": output_of(events)})
    return payloads + ending, awaiting


def shape(payloads: list[Json]) -> list[tuple[str, ...]]:
    """Each payload as (event_type, step_type[, delta type]) to compare sequences."""
    return [
        tuple(x for x in (p["event_type"], p.get("step_type"), (p.get("delta") or {}).get("type")) if x) for p in payloads
    ]


def new_turn() -> TurnSteps:
    return TurnSteps.new("session-1", [{"role": "user", "content": "hi"}])


def test_text_is_one_inference_step_and_its_deltas():
    steps = new_turn()
    [start] = steps.start()
    payloads, awaiting = run(steps, TEXT, status="incomplete")
    assert start == {"event_type": "turn_start", "turn_id": steps.turn["turn_id"]} and not awaiting
    assert shape(payloads) == [
        ("step_start", "inference"), ("step_progress", "inference", "text"), ("step_progress", "inference", "text"),
        ("step_complete", "inference"), ("turn_complete",),
    ]  # fmt: skip
    assert [p["delta"]["text"] for p in payloads[1:3]] == ["Hello", " there!"]
    step = payloads[3]["step_details"]
    assert step["model_response"] == {"role": "assistant", "content": "Hello there!", "stop_reason": "out_of_tokens", "tool_calls": []}
    assert step["turn_id"] == steps.turn["turn_id"] and payloads[0]["step_id"] == payloads[3]["step_id"] == step["step_id"]
    turn = payloads[-1]["turn"]
    assert turn["steps"] == [step] and turn["output_message"] == step["model_response"] and turn["completed_at"]
    assert turn["session_id"] == "session-1" and turn["input_messages"] == [{"role": "user", "content": "hi"}]


def test_a_client_tool_call_awaits_input_with_the_call():
    payloads, awaiting = run(new_turn(), CLIENT_CALL)
    assert awaiting
    assert shape(payloads) == [
        ("step_start", "inference"), ("step_progress", "inference", "tool_call"), ("step_progress", "inference", "tool_call"),
        ("step_progress", "inference", "tool_call"), ("step_complete", "inference"), ("turn_awaiting_input",),
    ]  # fmt: skip
    call = {"call_id": "call_1", "tool_name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert [(p["delta"]["parse_status"], p["delta"]["tool_call"]) for p in payloads[1:4]] == [
        ("started", ""), ("in_progress", '{"city": "Paris"}'), ("succeeded", call),
    ]  # fmt: skip
    assert payloads[4]["step_details"]["model_response"] == {"role": "assistant", "content": "", "stop_reason": "end_of_message", "tool_calls": [call]}
    turn = payloads[-1]["turn"]
    assert turn["output_message"]["tool_calls"] == [call] and "completed_at" not in turn
    assert pending_calls(turn) == [call]


def test_a_file_search_is_asked_for_by_an_inference_step_then_executed():
    payloads, awaiting = run(new_turn(), FILE_SEARCH + TEXT)
    assert not awaiting
    assert shape(payloads)[:5] == [
        ("step_start", "inference"), ("step_complete", "inference"), ("step_start", "tool_execution"),
        ("step_complete", "tool_execution"), ("step_start", "inference"),
    ]  # fmt: skip
    asked, searched = payloads[1]["step_details"], payloads[3]["step_details"]
    call = {"call_id": "fs_1", "tool_name": "knowledge_search", "arguments": json.dumps({"query": "otters"})}
    assert asked["model_response"] == {"role": "assistant", "content": "", "stop_reason": "end_of_message", "tool_calls": [call]}
    assert searched["tool_calls"] == [call]
    [result] = searched["tool_responses"]
    assert result["call_id"] == "fs_1" and result["tool_name"] == "knowledge_search"
    assert result["metadata"] == {"document_ids": ["file-1"], "filenames": ["otters.txt"], "chunks": ["Sea otters hold hands while they sleep."], "scores": [0.8]}
    assert "otters.txt" in result["content"][0]["text"] and "hold hands" in result["content"][0]["text"]
    assert [s["step_type"] for s in payloads[-1]["turn"]["steps"]] == ["inference", "tool_execution", "inference"]
    assert payloads[-1]["turn"]["output_message"]["content"] == "Hello there!"


def test_consecutive_searches_each_get_an_inference_step():
    second = json.loads(json.dumps(FILE_SEARCH).replace("fs_1", "fs_2"))
    payloads, _ = run(new_turn(), FILE_SEARCH + second)
    assert [s["step_type"] for s in payloads[-1]["turn"]["steps"]] == ["inference", "tool_execution"] * 2
    # The turn ended on a tool: its output message is the last inference step's, without the server's call.
    assert payloads[-1]["turn"]["output_message"] == {"role": "assistant", "content": "", "stop_reason": "end_of_turn", "tool_calls": []}


def test_an_mcp_call_is_a_tool_execution_step_and_its_listing_no_step():
    payloads, _ = run(new_turn(), MCP + TEXT)
    assert [s["step_type"] for s in payloads[-1]["turn"]["steps"]] == ["inference", "tool_execution", "inference"]
    executed = payloads[3]["step_details"]
    assert executed["tool_calls"] == [{"call_id": "mcp_1", "tool_name": "get_weather", "arguments": '{"city": "Paris"}'}]
    assert executed["tool_responses"] == [{"call_id": "mcp_1", "tool_name": "get_weather", "content": "The weather in Paris is sunny."}]


def test_a_guardrail_refusal_is_a_shield_call_step_with_the_violation():
    payloads, _ = run(new_turn(), REFUSAL)
    assert shape(payloads) == [("step_start", "shield_call"), ("step_complete", "shield_call"), ("turn_complete",)]
    violation = payloads[1]["step_details"]["violation"]
    assert violation == {"violation_level": "error", "user_message": REFUSAL_TEXT, "metadata": {}}
    assert payloads[-1]["turn"]["output_message"] == {"role": "assistant", "content": REFUSAL_TEXT, "stop_reason": "end_of_turn", "tool_calls": []}


def test_a_resumed_turn_keeps_its_id_and_appends_the_client_results_then_new_steps():
    first = new_turn()
    paused_payloads, _ = run(first, CLIENT_CALL)
    paused = paused_payloads[-1]["turn"]
    calls = pending_calls(paused)
    answer = {"call_id": "call_1", "content": "Sunny."}
    resumed = TurnSteps.resumed(paused)
    payloads = resumed.client_results(calls, [answer])
    more, awaiting = run(resumed, TEXT)
    payloads += more
    assert not awaiting and "turn_start" not in [p["event_type"] for p in payloads]
    assert shape(payloads)[:3] == [("step_start", "tool_execution"), ("step_complete", "tool_execution"), ("step_start", "inference")]
    assert payloads[1]["step_details"]["tool_responses"] == [{**answer, "tool_name": "get_weather"}]
    turn = payloads[-1]["turn"]
    assert turn["turn_id"] == paused["turn_id"] and turn["started_at"] == paused["started_at"]
    assert [s["step_id"] for s in turn["steps"]][:1] == [paused["steps"][0]["step_id"]]
    assert [s["step_type"] for s in turn["steps"]] == ["inference", "tool_execution", "inference"]
    assert turn["output_message"]["content"] == "Hello there!" and turn["completed_at"]


def test_streamed_steps_are_snapshots_of_the_turn_record():
    steps = new_turn()
    payloads, _ = run(steps, FILE_SEARCH + TEXT)
    completed = [p["step_details"] for p in payloads if p["event_type"] == "step_complete"]
    assert completed == steps.turn["steps"] == payloads[-1]["turn"]["steps"]
    completed[0]["model_response"]["content"] = "changed"
    assert steps.turn["steps"][0]["model_response"]["content"] == ""


CONFIG = {"model": "m", "instructions": "Be brief.", "sampling_params": {"strategy": {"type": "greedy"}, "max_tokens": 64}}
USER = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]


def test_the_agent_config_becomes_a_stored_chained_response_request():
    config = {**CONFIG, "input_shields": ["a", "b"], "output_shields": ["b", "c"], "max_infer_iters": 3,
              "response_format": {"type": "json_schema", "json_schema": {"type": "object"}}, "tool_config": {"tool_choice": "get_weather"}}  # fmt: skip
    tools = client_tools([{"name": "get_weather", "input_schema": {"type": "object"}}])
    tools.append(rag_tool(ToolgroupRef("builtin::rag", None, {"vector_db_ids": ["vs_1"]}, "agent_config.toolgroups[0]"), None))
    request = response_request(config, tools, USER, previous_response_id="resp_1", tool_config=None)
    assert request.body == {
        "model": "m", "input": USER, "store": True, "temperature": 0.0, "max_output_tokens": 64, "instructions": "Be brief.",
        "previous_response_id": "resp_1", "max_infer_iters": 3,
        "text": {"format": {"type": "json_schema", "name": "response", "schema": {"type": "object"}}},
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}, {"type": "file_search", "vector_store_ids": ["vs_1"]}],
        "include": ["file_search_call.results"],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "guardrails": ["a", "b", "c"],  # input and output shields run on both
    }  # fmt: skip


def test_top_p_sampling_and_the_turn_tool_config_override():
    config = {"model": "m", "sampling_params": {"strategy": {"type": "top_p", "temperature": 0.7}}, "tool_choice": "required"}
    request = response_request(config, client_tools([{"name": "f"}]), USER, previous_response_id=None, tool_config={"tool_choice": "none"})
    assert request.body["top_p"] == 0.95 and request.body["temperature"] == 0.7 and request.body["tool_choice"] == "none"
    assert "previous_response_id" not in request.body and "max_output_tokens" not in request.body


@pytest.mark.parametrize("left, choice", [(3, None), (1, "none"), (0, "none")])
def test_a_resumed_turn_chooses_freely_until_its_last_inference_call(left, choice):
    config = {**CONFIG, "tool_config": {"tool_choice": "required"}}
    request = response_request(config, client_tools([{"name": "f"}]), USER, previous_response_id="resp_1", tool_config=None, resumed_with=left)
    assert request.body.get("tool_choice") == choice and request.body["max_infer_iters"] == max(left, 1)


def test_remaining_iters_counts_the_turns_inference_steps():
    turn = {"steps": [{"step_type": "inference"}, {"step_type": "tool_execution"}, {"step_type": "inference"}]}
    assert remaining_iters(turn, 10) == 8


@pytest.mark.parametrize(
    "config, param",
    [
        ({"sampling_params": {"strategy": {"type": "beam"}}}, "agent_config.sampling_params.strategy.type"),
        ({"response_format": {"type": "grammar"}}, "agent_config.response_format.type"),
        ({"tool_choice": "absent"}, "agent_config.tool_choice"),
    ],
)
def test_config_mistakes_name_the_agent_config_field(config, param):
    with pytest.raises(InvalidArgument) as caught:
        response_request({"model": "m", **config}, [], USER, previous_response_id=None, tool_config=None)
    assert caught.value.param == param


def test_errors_of_the_response_request_are_renamed_to_the_agents_fields():
    tools = [*client_tools([{"name": "f"}]), SourcedTool({"type": "file_search"}, "toolgroups[0]", (("vector_store_ids", "args.vector_db_ids"),), keep_suffix=False)]
    request = response_request({**CONFIG, "input_shields": ["s"]}, tools, USER, previous_response_id=None, tool_config=None)
    for param, expected in (
        ("tools[0].parameters", "agent_config.client_tools[0].input_schema"),
        ("tools[0].name", "agent_config.client_tools[0].name"),
        ("tools[1].vector_store_ids", "toolgroups[0].args.vector_db_ids"),
        ("tools[1].max_num_results", "toolgroups[0]"),
        ("guardrails[0]", "agent_config.input_shields[0]"),
        ("max_output_tokens", "agent_config.sampling_params.max_tokens"),
        ("input[0].content", "messages[0].content"),
        ("text.format.schema", "agent_config.response_format"),
        ("model", "agent_config.model"),
    ):
        error = renamed(InvalidArgument(f"`{param}` is wrong", param=param), request.renames)
        assert (type(error), error.param, error.message) == (InvalidArgument, expected, f"`{expected}` is wrong")
    kept = NotFound("no such thing", param="elsewhere", reason="thing_not_found")
    assert renamed(kept, request.renames) is kept
    assert renamed(NotFound("`model` x", param="model", reason="model_not_found"), [Rename("model", "agent_config.model")]).reason == "model_not_found"


def test_toolgroup_entries_and_their_tools():
    refs = toolgroup_refs(["builtin::rag/knowledge_search", {"name": "mcp::files", "args": {"vector_db_ids": ["vs_1"]}}], "agent_config.toolgroups")
    assert refs == [
        ToolgroupRef("builtin::rag", "knowledge_search", {}, "agent_config.toolgroups[0]"),
        ToolgroupRef("mcp::files", None, {"vector_db_ids": ["vs_1"]}, "agent_config.toolgroups[1]"),
    ]
    assert rag_tool(refs[0], {"vector_store_ids": ["vs_2"]}).tool == {"type": "file_search", "vector_store_ids": ["vs_2"]}
    assert rag_tool(refs[1], {"vector_db_ids": ["vs_2"]}).tool["vector_store_ids"] == ["vs_1"]  # the agent's args win
    assert mcp_tool(ToolgroupRef("mcp::files", "read", {}, "w"), "http://h/mcp").tool == {
        "type": "mcp", "server_label": "mcp__files", "server_url": "http://h/mcp", "require_approval": "never", "allowed_tools": ["read"],
    }  # fmt: skip
    for entries, param in (([{"args": {}}], "t[0]"), ([{"name": "g", "args": []}], "t[0].args"), ([7], "t[0]")):
        with pytest.raises(InvalidArgument) as caught:
            toolgroup_refs(entries, "t")
        assert caught.value.param == param
    with pytest.raises(InvalidArgument) as caught:
        rag_tool(refs[0], {})
    assert caught.value.param == "agent_config.toolgroups[0].args.vector_db_ids"


def test_turn_messages_become_input_items():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image", "image": {"url": {"uri": "http://x/cat.png"}}}]},
        {"role": "tool", "call_id": "call_1", "content": [{"type": "text", "text": "Sunny"}]},
    ]
    assert input_items(messages, [{"content": "Doc text.", "mime_type": "text/plain"}]) == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Look:"}, {"type": "input_image", "image_url": "http://x/cat.png", "detail": "auto"}]},
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Doc text."}]},
    ]  # fmt: skip
    for messages, documents, param in (
        ([], [], "messages"),
        ([{"role": "system", "content": "x"}], [], "messages[0].role"),
        ([{"role": "user", "content": {"type": "image", "image": {"data": "AAAA"}}}], [], "messages[0].content.image"),
        ([{"role": "user", "content": "x"}], [{"content": {"uri": "http://x"}}], "documents[0].content"),
    ):
        with pytest.raises(InvalidArgument) as caught:
            input_items(messages, documents)
        assert caught.value.param == param


def test_resume_answers_exactly_the_awaited_calls():
    pending = [{"call_id": "a", "tool_name": "f", "arguments": "{}"}, {"call_id": "b", "tool_name": "f", "arguments": "{}"}]
    answers = [{"call_id": "b", "content": "2"}, {"call_id": "a", "content": [{"type": "text", "text": "1"}]}]
    assert resume_items(answers, pending) == [
        {"type": "function_call_output", "call_id": "b", "output": "2"},
        {"type": "function_call_output", "call_id": "a", "output": "1"},
    ]
    for responses, param in (
        ([answers[0]], "tool_responses"),
        ([*answers, answers[0]], "tool_responses[2].call_id"),
        ([{"call_id": "z", "content": "x"}], "tool_responses[0].call_id"),
        ([{"content": "x"}], "tool_responses[0].call_id"),
        ([{"call_id": "a"}, answers[0]], "tool_responses[0].content"),
    ):
        with pytest.raises(InvalidArgument) as caught:
            resume_items(responses, pending)
        assert caught.value.param == param
