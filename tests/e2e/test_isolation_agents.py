"""Tenant isolation in the agents service, through the gateway with auth on (REST and gRPC) and
on the service's own port: responses (and their background jobs), conversations and their
items, prompts and their versions, agents with their sessions, turns and steps, tool groups
and their tools.

Alice (team red) owns one of each. Bob (team blue) finds none of them: each answers exactly
as a missing id does (404, never 403), lists leave them out, and naming one in a request of
his own (`previous_response_id`, `conversation`, `prompt`, an agent's tool group) is the same
404. Carol (team red) reads them but changes none; an admin reads them; Alice still does
everything, deleting all of it at the end."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import grpc
import httpx
import pytest
from google.protobuf import json_format, struct_pb2

from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh.agents.v1 import agents_service_pb2_grpc as pb_grpc
from tests.conftest import CHAT_MODEL
from tests.e2e.test_bad_input import error_of
from tests.support.auth import create_key

AGENTS = "/v1alpha/agents"
# Generation is only what the shared objects need: a few tokens each.
TINY = {"max_output_tokens": 16, "temperature": 0}
SAMPLING = {"strategy": {"type": "greedy"}, "max_tokens": 16}
ITEM = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello there."}]}
UNFINISHED = ("queued", "in_progress")

ALICE, BOB, CAROL, OPS = "iso-agents-alice", "iso-agents-bob", "iso-agents-carol", "iso-agents-ops"
OTHERS = {BOB: "blue", CAROL: "red"}


@dataclass(frozen=True)
class Keys:
    secrets: dict[str, str]

    def rest(self, who: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.secrets[who]}"}

    def grpc(self, who: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.secrets[who]}")]


def mesh(principal: str, team: str | None = None) -> list[tuple[str, str]]:
    """The metadata the gateway sets, for calls straight to the service's own port."""
    return [("x-stackmesh-principal", principal), ("x-stackmesh-attributes", json.dumps({"team": [team]} if team else {}))]


def unknown(real_id: str) -> str:
    """An id of the same shape as `real_id` that names nothing."""
    return real_id[:-6] + "000000"


def fill(value: Any, ids: dict[str, str]) -> Any:
    """`value` with each "{name}" in its strings replaced by that object's id."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    return value


@pytest.fixture(scope="module")
def keys(stack) -> Keys:
    return Keys(
        {
            ALICE: create_key(stack, ALICE, team="red"),
            BOB: create_key(stack, BOB, team="blue"),
            CAROL: create_key(stack, CAROL, team="red"),
            OPS: create_key(stack, OPS, roles=["admin"]),
        }
    )


@pytest.fixture(scope="module")
def api(auth_gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_gateway.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def gateway_channel(auth_gateway) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(auth_gateway.grpc_address) as channel:
        yield channel


@pytest.fixture(scope="module")
def service_channel(stack) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(stack.service_address("agents")) as channel:
        yield channel


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def settle(api: httpx.Client, headers: dict[str, str], response_id: str, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while (response := ok(api.get(f"/v1/responses/{response_id}", headers=headers)))["status"] in UNFINISHED:
        assert time.monotonic() < deadline, f"{response_id} still {response['status']}"
        time.sleep(0.2)
    return response


@pytest.fixture(scope="module")
def ids(api, keys, service_channel) -> Iterator[dict[str, str]]:
    """Alice's objects of every kind, by name; deleted by Alice at the end."""
    alice = keys.rest(ALICE)
    response = ok(api.post("/v1/responses", headers=alice, json={"model": CHAT_MODEL, "input": "Say hi.", **TINY}))
    background = ok(api.post("/v1/responses", headers=alice, json={"model": CHAT_MODEL, "input": "Say hi.", "background": True, **TINY}))
    conversation = ok(api.post("/v1/conversations", headers=alice, json={"items": [ITEM], "metadata": {"owner": "alice"}}))
    [item] = ok(api.get(f"/v1/conversations/{conversation['id']}/items", headers=alice))["data"]
    prompt = ok(api.post("/v1/prompts", headers=alice, json={"prompt": "Answer in one word.", "variables": []}))
    ok(api.post(f"/v1/prompts/{prompt['prompt_id']}", headers=alice, json={"prompt": "Answer briefly.", "version": 1, "variables": []}))
    # Tool groups are registered by operators at the gateway; a tenant's own comes in on the mesh.
    toolgroup = f"{ALICE}::rag"
    tool_groups = pb_grpc.ToolGroupsServiceStub(service_channel)
    args = struct_pb2.Struct()
    args.update({"vector_db_ids": ["vs_alice_only"]})
    tool_groups.RegisterToolGroup(
        pb.RegisterToolGroupRequest(toolgroup_id=toolgroup, provider_id="rag-runtime", args=args), metadata=mesh(ALICE, "red"), timeout=30
    )
    agent = ok(api.post(AGENTS, headers=alice, json={"agent_config": {"model": CHAT_MODEL, "instructions": "Be brief.", "sampling_params": SAMPLING}}))
    agent_id = agent["agent_id"]
    session_id = ok(api.post(f"{AGENTS}/{agent_id}/session", headers=alice, json={"session_name": "alice's"}))["session_id"]
    turn = ok(api.post(f"{AGENTS}/{agent_id}/session/{session_id}/turn", headers=alice, json={"messages": [{"role": "user", "content": "Hi"}]}))
    settle(api, alice, background["id"])
    objects = {
        "response": response["id"],
        "background": background["id"],
        "conversation": conversation["id"],
        "item": item["id"],
        "prompt": prompt["prompt_id"],
        "toolgroup": toolgroup,
        "agent": agent_id,
        "session": session_id,
        "turn": turn["turn_id"],
        "step": turn["steps"][0]["step_id"],
    }
    yield objects
    # Alice still may do everything to her own.
    for path in (
        f"{AGENTS}/{agent_id}/session/{session_id}",
        f"{AGENTS}/{agent_id}",
        f"/v1/conversations/{conversation['id']}/items/{item['id']}",
        f"/v1/conversations/{conversation['id']}",
        f"/v1/prompts/{prompt['prompt_id']}",
        f"/v1/responses/{response['id']}",
        f"/v1/responses/{background['id']}",
    ):
        assert api.delete(path, headers=alice).status_code == 200, path
        assert api.get(path, headers=alice).status_code == 404, path
    tool_groups.UnregisterToolGroup(pb.UnregisterToolGroupRequest(toolgroup_id=toolgroup), metadata=mesh(ALICE, "red"), timeout=30)


# REST: (method, path, body) on Alice's objects. The first object a path names is the one it
# is about: a caller who may not see it gets that object's 404.
READS = [
    ("GET", "/v1/responses/{response}", None),
    ("GET", "/v1/responses/{response}/input_items", None),
    ("GET", "/v1/responses/{background}", None),
    ("GET", "/v1/conversations/{conversation}", None),
    ("GET", "/v1/conversations/{conversation}/items", None),
    ("GET", "/v1/conversations/{conversation}/items/{item}", None),
    ("GET", "/v1/prompts/{prompt}", None),
    ("GET", "/v1/prompts/{prompt}?version=1", None),
    ("GET", "/v1/prompts/{prompt}/versions", None),
    ("GET", AGENTS + "/{agent}", None),
    ("GET", AGENTS + "/{agent}/sessions", None),
    ("GET", AGENTS + "/{agent}/session/{session}", None),
    ("GET", AGENTS + "/{agent}/session/{session}/turn/{turn}", None),
    ("GET", AGENTS + "/{agent}/session/{session}/turn/{turn}/step/{step}", None),
    ("GET", "/v1/toolgroups/{toolgroup}", None),
    ("GET", "/v1/tools?toolgroup_id={toolgroup}", None),
    ("GET", "/v1/tool-runtime/list-tools?tool_group_id={toolgroup}", None),
]
WRITES = [
    ("DELETE", "/v1/responses/{response}", None),
    ("POST", "/v1/responses/{background}/cancel", None),
    ("POST", "/v1/conversations/{conversation}", {"metadata": {"owner": "mallory"}}),
    ("DELETE", "/v1/conversations/{conversation}", None),
    ("POST", "/v1/conversations/{conversation}/items", {"items": [ITEM]}),
    ("DELETE", "/v1/conversations/{conversation}/items/{item}", None),
    ("POST", "/v1/prompts/{prompt}", {"prompt": "Mallory's.", "version": 2, "variables": []}),
    ("POST", "/v1/prompts/{prompt}/set-default-version", {"version": 1}),
    ("DELETE", "/v1/prompts/{prompt}", None),
    ("DELETE", AGENTS + "/{agent}", None),
    ("POST", AGENTS + "/{agent}/session", {"session_name": "mallory's"}),
    ("DELETE", AGENTS + "/{agent}/session/{session}", None),
    ("POST", AGENTS + "/{agent}/session/{session}/turn", {"messages": [{"role": "user", "content": "Hi"}]}),
    ("POST", AGENTS + "/{agent}/session/{session}/turn/{turn}/resume", {"tool_responses": [{"call_id": "c1", "tool_name": "t", "content": "x"}]}),
    # Using a conversation in a response adds to it.
    ("POST", "/v1/responses", {"model": CHAT_MODEL, "input": "Hi", "conversation": "{conversation}", **TINY}),
]
# Requests of the caller's own naming Alice's object: reading it is enough to use it, so only
# Bob is refused (Carol's would run; one test does).
REFERENCES = [
    ("POST", "/v1/responses", {"model": CHAT_MODEL, "input": "Hi", "previous_response_id": "{response}", **TINY}),
    ("POST", "/v1/responses", {"model": CHAT_MODEL, "input": "Hi", "prompt": {"id": "{prompt}"}, **TINY}),
    ("POST", AGENTS, {"agent_config": {"model": CHAT_MODEL, "instructions": "x", "toolgroups": ["{toolgroup}"]}}),
    ("POST", "/v1/tool-runtime/invoke", {"tool_name": "{toolgroup}/knowledge_search", "kwargs": {"query": "otters"}}),
]


def target(path: str, body: Any) -> str:
    """The name of the object a request is about: the first one its path (else body) names."""
    text = path + json.dumps(body)
    return min((text.index("{" + name + "}"), name) for name in
               ("response", "background", "conversation", "item", "prompt", "toolgroup", "agent", "session", "turn", "step")
               if "{" + name + "}" in text)[1]


def call(api: httpx.Client, headers: dict[str, str], request: tuple[str, str, Any], ids: dict[str, str]) -> httpx.Response:
    method, path, body = request
    return api.request(method, fill(path, ids), headers=headers, json=fill(body, ids) if body is not None else None)


def assert_hidden(api: httpx.Client, headers: dict[str, str], request: tuple[str, str, Any], ids: dict[str, str], name: str | None = None) -> dict:
    """The request answers 404 exactly as if the object it is about (`name`, else the first
    one it names) did not exist."""
    name = name or target(request[1], request[2])
    hidden = call(api, headers, request, ids)
    missing = call(api, headers, request, {**ids, name: unknown(ids[name])})
    assert (hidden.status_code, missing.status_code) == (404, 404), (hidden.text, missing.text)
    error, expected = error_of(hidden), error_of(missing)
    assert {**error, "message": error["message"].replace(ids[name], unknown(ids[name]), 1)} == expected
    return error


@pytest.mark.parametrize("request_", READS + WRITES + REFERENCES, ids=lambda r: f"{r[0]} {r[1]}")
def test_another_tenant_finds_none_of_alices_objects(api, keys, ids, request_):
    """Bob (another principal, another team) gets the 404 of a missing id from every read,
    change and reference of Alice's objects."""
    assert_hidden(api, keys.rest(BOB), request_, ids)


@pytest.mark.parametrize("request_", READS, ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("who", [ALICE, CAROL, OPS])
def test_the_owner_a_teammate_and_an_admin_read_them(api, keys, ids, request_, who):
    assert call(api, keys.rest(who), request_, ids).status_code == 200


@pytest.mark.parametrize("request_", WRITES, ids=lambda r: f"{r[0]} {r[1]}")
def test_a_teammate_changes_none_of_them(api, keys, ids, request_):
    """Sharing Alice's team lets Carol read, not change: every change is the 404 of the object
    it changes gone missing (a session's, not its agent's, which she reads)."""
    path = request_[1]
    changed = "session" if "{session}" in path else None
    assert_hidden(api, keys.rest(CAROL), request_, ids, changed)


def listed(api: httpx.Client, headers: dict[str, str], path: str, key: str) -> set[str]:
    return {entry[key] for entry in ok(api.get(path, headers=headers))["data"]}


LISTS = [
    ("/v1/responses?limit=100", "id", ("response", "background")),
    ("/v1/prompts", "prompt_id", ("prompt",)),
    (AGENTS + "?limit=1000", "agent_id", ("agent",)),
    ("/v1/toolgroups", "identifier", ("toolgroup",)),
    ("/v1/tools", "toolgroup_id", ("toolgroup",)),
]


@pytest.mark.parametrize(("path", "key", "names"), LISTS, ids=[entry[0] for entry in LISTS])
def test_lists_hold_alices_objects_only_for_those_who_may_read_them(api, keys, ids, path, key, names):
    expected = {ids[name] for name in names}
    for who in (ALICE, CAROL, OPS):
        assert expected <= listed(api, keys.rest(who), path, key), who
    assert not expected & listed(api, keys.rest(BOB), path, key)


def test_paging_after_an_invisible_response_is_refused_as_after_an_unknown_one(api, keys, ids):
    bob = keys.rest(BOB)
    hidden = api.get("/v1/responses", params={"after": ids["response"]}, headers=bob)
    missing = api.get("/v1/responses", params={"after": unknown(ids["response"])}, headers=bob)
    assert (hidden.status_code, missing.status_code) == (400, 400)
    error = error_of(hidden)
    assert {**error, "message": error["message"].replace(ids["response"], unknown(ids["response"]))} == error_of(missing)
    # Carol may read Alice's response, so she pages from it.
    assert api.get("/v1/responses", params={"after": ids["response"]}, headers=keys.rest(CAROL)).status_code == 200


def test_each_tenant_lists_its_own_objects_and_not_the_others(api, keys, ids):
    bob, alice = keys.rest(BOB), keys.rest(ALICE)
    prompt = ok(api.post("/v1/prompts", headers=bob, json={"prompt": "Bob's.", "variables": []}))["prompt_id"]
    agent = ok(api.post(AGENTS, headers=bob, json={"agent_config": {"model": CHAT_MODEL, "instructions": "Bob's."}}))["agent_id"]
    try:
        assert prompt in listed(api, bob, "/v1/prompts", "prompt_id")
        assert prompt not in listed(api, alice, "/v1/prompts", "prompt_id")
        assert agent in listed(api, bob, AGENTS, "agent_id") and agent not in listed(api, alice, AGENTS, "agent_id")
        # Llama Stack's start_index counts only what the caller sees.
        mine = ok(api.get(AGENTS, params={"start_index": 0, "limit": 1000}, headers=bob))["data"]
        assert ids["agent"] not in {entry["agent_id"] for entry in mine}
    finally:
        assert api.delete(f"/v1/prompts/{prompt}", headers=bob).status_code == 200
        assert api.delete(f"{AGENTS}/{agent}", headers=bob).status_code == 200


def test_alice_changes_her_objects(api, keys, ids):
    alice = keys.rest(ALICE)
    updated = ok(api.post(f"/v1/conversations/{ids['conversation']}", headers=alice, json={"metadata": {"owner": "alice", "n": "2"}}))
    assert updated["metadata"] == {"owner": "alice", "n": "2"}
    added = ok(api.post(f"/v1/conversations/{ids['conversation']}/items", headers=alice, json={"items": [ITEM]}))["data"]
    assert ok(api.delete(f"/v1/conversations/{ids['conversation']}/items/{added[0]['id']}", headers=alice))["deleted"] is True
    assert ok(api.post(f"/v1/prompts/{ids['prompt']}/set-default-version", headers=alice, json={"version": 2}))["version"] == 2
    session = ok(api.post(f"{AGENTS}/{ids['agent']}/session", headers=alice, json={"session_name": "another"}))["session_id"]
    assert api.delete(f"{AGENTS}/{ids['agent']}/session/{session}", headers=alice).status_code == 200
    # Too late to cancel: it stands, as Alice's.
    assert ok(api.post(f"/v1/responses/{ids['background']}/cancel", headers=alice))["status"] in ("completed", "incomplete")


def test_an_admin_changes_any_tenants_objects(api, keys):
    conversation = ok(api.post("/v1/conversations", headers=keys.rest(ALICE), json={"items": [ITEM]}))["id"]
    ops = keys.rest(OPS)
    assert ok(api.post(f"/v1/conversations/{conversation}", headers=ops, json={"metadata": {"by": "ops"}}))["metadata"] == {"by": "ops"}
    assert ok(api.delete(f"/v1/conversations/{conversation}", headers=ops))["deleted"] is True
    assert api.get(f"/v1/conversations/{conversation}", headers=keys.rest(ALICE)).status_code == 404


def test_a_teammate_continues_alices_response_with_her_prompt(api, keys, ids):
    """Reading is all that continuing a response or using a prompt takes; the new response is Carol's."""
    carol = keys.rest(CAROL)
    body = {"model": CHAT_MODEL, "input": "And?", "previous_response_id": ids["response"], "prompt": {"id": ids["prompt"]}, **TINY}
    created = ok(api.post("/v1/responses", headers=carol, json=body))
    try:
        assert created["previous_response_id"] == ids["response"]
        assert created["id"] in listed(api, carol, "/v1/responses?limit=100", "id")
        assert api.get(f"/v1/responses/{created['id']}", headers=keys.rest(ALICE)).status_code == 200  # Alice's teammate's
        assert api.get(f"/v1/responses/{created['id']}", headers=keys.rest(BOB)).status_code == 404
    finally:
        assert api.delete(f"/v1/responses/{created['id']}", headers=carol).status_code == 200


def test_a_tool_name_resolves_among_the_groups_the_caller_sees(api, keys, ids):
    """knowledge_search is offered by builtin::rag and by Alice's group: ambiguous for her, not for Bob."""
    mine = api.get("/v1/tools/knowledge_search", headers=keys.rest(ALICE))
    assert mine.status_code == 400 and error_of(mine)["code"] == "ambiguous_tool"
    assert ok(api.get("/v1/tools/knowledge_search", headers=keys.rest(BOB)))["toolgroup_id"] == "builtin::rag"


def test_watching_a_background_response_is_for_those_who_may_read_it(api, keys, ids):
    path = f"/v1/responses/{ids['background']}:watch"
    for who in (ALICE, CAROL, OPS):
        with api.stream("GET", path, headers=keys.rest(who)) as response:
            assert response.status_code == 200, who
            snapshots = [json.loads(line.removeprefix("data: ")) for line in response.iter_lines() if line.startswith("data: ")]
        assert snapshots[-1]["id"] == ids["background"] and snapshots[-1]["state"] == "JOB_STATE_COMPLETED"
    assert_hidden(api, keys.rest(BOB), ("GET", "/v1/responses/{background}:watch", None), ids)


# gRPC through the gateway: (stub, method, request builder, whether it changes the object).
Build = Callable[[dict[str, str]], Any]
GRPC_CALLS: list[tuple[str, str, str, Build, bool]] = [
    ("response", "Responses", "GetResponse", lambda i: pb.GetResponseRequest(response_id=i["response"]), False),
    ("response", "Responses", "ListResponseInputItems", lambda i: pb.ListResponseInputItemsRequest(response_id=i["response"]), False),
    ("response", "Responses", "DeleteResponse", lambda i: pb.DeleteResponseRequest(response_id=i["response"]), True),
    ("background", "Responses", "CancelResponse", lambda i: pb.CancelResponseRequest(response_id=i["background"]), True),
    ("conversation", "Conversations", "GetConversation", lambda i: pb.GetConversationRequest(conversation_id=i["conversation"]), False),
    (
        "conversation", "Conversations", "UpdateConversation",
        lambda i: pb.UpdateConversationRequest(conversation_id=i["conversation"], metadata={"owner": "mallory"}), True,
    ),
    ("conversation", "Conversations", "ListConversationItems", lambda i: pb.ListConversationItemsRequest(conversation_id=i["conversation"]), False),
    (
        "conversation", "Conversations", "GetConversationItem",
        lambda i: pb.GetConversationItemRequest(conversation_id=i["conversation"], item_id=i["item"]), False,
    ),
    (
        "conversation", "Conversations", "CreateConversationItems",
        lambda i: pb.CreateConversationItemsRequest(conversation_id=i["conversation"], items=[json_format.ParseDict(ITEM, struct_pb2.Struct())]), True,
    ),
    ("prompt", "Prompts", "GetPrompt", lambda i: pb.GetPromptRequest(prompt_id=i["prompt"]), False),
    ("prompt", "Prompts", "ListPromptVersions", lambda i: pb.ListPromptVersionsRequest(prompt_id=i["prompt"]), False),
    ("prompt", "Prompts", "UpdatePrompt", lambda i: pb.UpdatePromptRequest(prompt_id=i["prompt"], prompt="Mallory's.", version=2), True),
    ("prompt", "Prompts", "SetDefaultPromptVersion", lambda i: pb.SetDefaultPromptVersionRequest(prompt_id=i["prompt"], version=1), True),
    ("prompt", "Prompts", "DeletePrompt", lambda i: pb.DeletePromptRequest(prompt_id=i["prompt"]), True),
    ("agent", "Agents", "GetAgent", lambda i: pb.GetAgentRequest(agent_id=i["agent"]), False),
    ("agent", "Agents", "ListSessions", lambda i: pb.ListSessionsRequest(agent_id=i["agent"]), False),
    ("agent", "Agents", "CreateSession", lambda i: pb.CreateSessionRequest(agent_id=i["agent"], session_name="mallory's"), True),
    ("agent", "Agents", "DeleteAgent", lambda i: pb.DeleteAgentRequest(agent_id=i["agent"]), True),
    ("session", "Agents", "GetSession", lambda i: pb.GetSessionRequest(agent_id=i["agent"], session_id=i["session"]), False),
    ("session", "Agents", "DeleteSession", lambda i: pb.DeleteSessionRequest(agent_id=i["agent"], session_id=i["session"]), True),
    ("session", "Agents", "GetTurn", lambda i: pb.GetTurnRequest(agent_id=i["agent"], session_id=i["session"], turn_id=i["turn"]), False),
    (
        "session", "Agents", "GetStep",
        lambda i: pb.GetStepRequest(agent_id=i["agent"], session_id=i["session"], turn_id=i["turn"], step_id=i["step"]), False,
    ),
    ("toolgroup", "ToolGroups", "GetToolGroup", lambda i: pb.GetToolGroupRequest(toolgroup_id=i["toolgroup"]), False),
    ("toolgroup", "ToolGroups", "ListTools", lambda i: pb.ListToolsRequest(toolgroup_id=i["toolgroup"]), False),
]


def grpc_call(channel: grpc.Channel, service: str, method: str, request: Any, metadata: list[tuple[str, str]]) -> Any:
    stub = getattr(pb_grpc, f"{service}ServiceStub")(channel)
    return getattr(stub, method)(request, metadata=metadata, timeout=30)


def grpc_refusal(channel: grpc.Channel, service: str, method: str, request: Any, metadata: list[tuple[str, str]]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        grpc_call(channel, service, method, request, metadata)
    return caught.value


def assert_grpc_hidden(channel: grpc.Channel, entry: tuple[str, str, str, Build, bool], ids: dict[str, str], metadata: list[tuple[str, str]]) -> None:
    name, service, method, build, _ = entry
    hidden = grpc_refusal(channel, service, method, build(ids), metadata)
    missing = grpc_refusal(channel, service, method, build({**ids, name: unknown(ids[name])}), metadata)
    assert hidden.code() == missing.code() == grpc.StatusCode.NOT_FOUND
    assert hidden.details().replace(ids[name], unknown(ids[name]), 1) == missing.details()


@pytest.mark.parametrize("entry", GRPC_CALLS, ids=lambda e: e[2])
def test_grpc_through_the_gateway_keeps_alices_objects_from_bob_and_unchanged_by_carol(gateway_channel, keys, ids, entry):
    assert_grpc_hidden(gateway_channel, entry, ids, keys.grpc(BOB))
    _, service, method, build, changes = entry
    if changes:
        assert_grpc_hidden(gateway_channel, entry, ids, keys.grpc(CAROL))
    else:
        for who in (ALICE, CAROL, OPS):
            grpc_call(gateway_channel, service, method, build(ids), keys.grpc(who))


def test_grpc_lists_and_watch_through_the_gateway(gateway_channel, keys, ids):
    def lists(who: str) -> set[str]:
        metadata = keys.grpc(who)
        responses = grpc_call(gateway_channel, "Responses", "ListResponses", pb.ListResponsesRequest(limit=100), metadata).data
        prompts = grpc_call(gateway_channel, "Prompts", "ListPrompts", pb.ListPromptsRequest(), metadata).data
        agents = grpc_call(gateway_channel, "Agents", "ListAgents", pb.ListAgentsRequest(), metadata).data
        groups = grpc_call(gateway_channel, "ToolGroups", "ListToolGroups", pb.ListToolGroupsRequest(), metadata).data
        return {r.id for r in responses} | {p.prompt_id for p in prompts} | {a.agent_id for a in agents} | {g.identifier for g in groups}

    alices = {ids[name] for name in ("response", "background", "prompt", "agent", "toolgroup")}
    for who in (ALICE, CAROL, OPS):
        assert alices <= lists(who), who
    assert not alices & lists(BOB)
    watch = pb_grpc.ResponsesServiceStub(gateway_channel).WatchResponse
    jobs = list(watch(pb.WatchResponseRequest(response_id=ids["background"]), metadata=keys.grpc(CAROL), timeout=60))
    assert jobs[-1].id == ids["background"]
    with pytest.raises(grpc.RpcError) as caught:
        list(watch(pb.WatchResponseRequest(response_id=ids["background"]), metadata=keys.grpc(BOB), timeout=60))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("entry", [e for e in GRPC_CALLS if e[2] in ("GetResponse", "GetConversation", "GetPrompt", "GetSession", "DeleteAgent")], ids=lambda e: e[2])
def test_the_service_port_applies_the_same_rules_to_the_meshs_metadata(service_channel, ids, entry):
    """Straight to the agents service, as a peer in the mesh calls it: the gateway's metadata
    (or none: anonymous) is all it goes by."""
    for metadata in (mesh(BOB, "blue"), mesh("anonymous"), []):
        assert_grpc_hidden(service_channel, entry, ids, metadata)
    _, service, method, build, changes = entry
    if not changes:
        grpc_call(service_channel, service, method, build(ids), mesh(CAROL, "red"))


def test_only_the_owner_or_an_admin_unregisters_a_tool_group(service_channel, api, keys, ids):
    entry = ("toolgroup", "ToolGroups", "UnregisterToolGroup", lambda i: pb.UnregisterToolGroupRequest(toolgroup_id=i["toolgroup"]), True)
    assert_grpc_hidden(service_channel, entry, ids, mesh(BOB, "blue"))
    assert_grpc_hidden(service_channel, entry, ids, mesh(CAROL, "red"))
    # An admin may, at the gateway: a group of Bob's of its own, so Alice's stays.
    tool_groups = pb_grpc.ToolGroupsServiceStub(service_channel)
    args = struct_pb2.Struct()
    args.update({"vector_db_ids": ["vs_bob_only"]})
    tool_groups.RegisterToolGroup(
        pb.RegisterToolGroupRequest(toolgroup_id=f"{BOB}::rag", provider_id="rag-runtime", args=args), metadata=mesh(BOB, "blue"), timeout=30
    )
    assert api.get(f"/v1/toolgroups/{BOB}::rag", headers=keys.rest(ALICE)).status_code == 404
    assert api.delete(f"/v1/toolgroups/{BOB}::rag", headers=keys.rest(OPS)).status_code == 200
    assert api.get(f"/v1/toolgroups/{BOB}::rag", headers=keys.rest(BOB)).status_code == 404
