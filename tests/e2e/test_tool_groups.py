"""Llama Stack's tool groups and tool runtime through the gateway: builtin::rag's knowledge_search
over a real vector store, MCP groups on a real MCP server, and bad input in OpenAI's envelope."""

from __future__ import annotations

import socket
import time
from typing import Iterator

import grpc
import httpx
import psycopg
import pytest

from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh.agents.v1 import agents_service_pb2_grpc as pb_grpc
from tests.e2e.test_bad_input import error_of
from tests.support.mcp_server import McpServerProcess

MCP = "model-context-protocol"
GROUP = "mcp::test-tools"
TEST_TOOLS = {"get_weather", "add", "whoami", "fail", "sleep", "pixel"}
OTTERS = b"Sea otters hold hands while they sleep so the current does not part them."
BEES = b"Honey bees dance in the hive to tell their sisters where the flowers are."


@pytest.fixture(scope="module")
def api(stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[McpServerProcess]:
    with McpServerProcess(transport="streamable-http") as server:
        yield server


@pytest.fixture(scope="module")
def mcp_group(api, mcp_server) -> Iterator[str]:
    register(api, GROUP, MCP, mcp_endpoint={"uri": mcp_server.url})
    yield GROUP
    api.delete(f"/v1/toolgroups/{GROUP}")


@pytest.fixture(scope="module")
def knowledge(client) -> tuple[str, str]:
    """A vector store holding a file about otters and one about bees: (store id, otter file id)."""
    otters = client.files.create(file=("otters.txt", OTTERS), purpose="assistants")
    bees = client.files.create(file=("bees.txt", BEES), purpose="assistants")
    store = client.vector_stores.create(name="tool-groups", file_ids=[otters.id, bees.id])
    deadline = time.monotonic() + 60
    for file_id in (otters.id, bees.id):
        while client.vector_stores.files.retrieve(file_id, vector_store_id=store.id).status != "completed":
            assert time.monotonic() < deadline, "ingestion did not finish"
            time.sleep(0.2)
    return store.id, otters.id


def register(api: httpx.Client, toolgroup_id: str, provider_id: str, **extra) -> None:
    response = api.post("/v1/toolgroups", json={"toolgroup_id": toolgroup_id, "provider_id": provider_id, **extra})
    assert response.status_code == 200, response.text


def invoke(api: httpx.Client, tool_name: str, **body) -> dict:
    response = api.post("/v1/tool-runtime/invoke", json={"tool_name": tool_name, "kwargs": {}, **body})
    assert response.status_code == 200, response.text
    return response.json()


def tool_names(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {tool["name"] for tool in response.json()["data"]}


def closed_port_url() -> str:
    """An MCP URL on which nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/mcp"


def test_builtin_rag_is_provided_with_llama_stacks_knowledge_search(api):
    groups = {g["identifier"]: g for g in api.get("/v1/toolgroups").json()["data"]}
    rag = groups["builtin::rag"]
    assert (rag["provider_id"], rag["provider_resource_id"], rag["type"]) == ("rag-runtime", "builtin::rag", "tool_group")
    assert api.get("/v1/toolgroups/builtin::rag").json() == rag

    tools = api.get("/v1/tools", params={"toolgroup_id": "builtin::rag"}).json()["data"]
    assert [(t["name"], t["toolgroup_id"]) for t in tools] == [("knowledge_search", "builtin::rag")]
    assert tools[0]["input_schema"]["required"] == ["query"]
    assert tools[0]["input_schema"]["properties"]["query"]["type"] == "string"
    assert api.get("/v1/tools/knowledge_search").json() == tools[0]


def test_knowledge_search_finds_the_passage_and_names_its_file(api, knowledge):
    store_id, otters_id = knowledge
    result = invoke(api, "knowledge_search", kwargs={"query": "Why do sea otters hold hands?", "vector_db_ids": [store_id]})
    texts = [item["text"] for item in result["content"]]
    assert all(item["type"] == "text" for item in result["content"])
    assert texts[0].startswith("knowledge_search tool found 2 chunks:\nBEGIN of knowledge_search tool results.")
    assert texts[1].startswith("Result 1\nContent: Sea otters hold hands") and "'filename': 'otters.txt'" in texts[1]
    assert texts[-2] == "END of knowledge_search tool results.\n"
    assert '"Why do sea otters hold hands?"' in texts[-1]
    metadata = result["metadata"]
    assert metadata["document_ids"][0] == otters_id and metadata["filenames"][0] == "otters.txt"
    assert metadata["vector_store_ids"] == [store_id, store_id]
    assert result.get("error_message") is None


def test_knowledge_search_reads_its_stores_from_the_group_args_and_caps_chunks(api, knowledge):
    store_id, otters_id = knowledge
    register(api, "rag::animals", "rag-runtime", args={"vector_store_ids": [store_id]})
    try:
        result = invoke(api, "rag::animals/knowledge_search", kwargs={"query": "bees dance", "query_config": {"max_chunks": 1}})
        assert result["metadata"]["filenames"] == ["bees.txt"]
        assert "Honey bees dance" in result["content"][1]["text"]

        # Two groups offer knowledge_search now: the bare name is refused, naming both.
        response = api.post("/v1/tool-runtime/invoke", json={"tool_name": "knowledge_search", "kwargs": {"query": "x"}})
        assert response.status_code == 400
        error = error_of(response)
        assert error["param"] == "tool_name" and "builtin::rag" in error["message"] and "rag::animals" in error["message"]
        assert api.get("/v1/tools/knowledge_search").status_code == 400
        assert api.get("/v1/tools/rag::animals%2Fknowledge_search").json()["toolgroup_id"] == "rag::animals"
    finally:
        api.delete("/v1/toolgroups/rag::animals")
    assert api.get("/v1/tools/knowledge_search").status_code == 200


@pytest.mark.parametrize(
    "kwargs, status, param",
    [
        ({"query": "otters"}, 400, "kwargs.vector_db_ids"),
        ({"vector_db_ids": ["vs_any"]}, 400, "kwargs.query"),
        ({"query": "otters", "vector_db_ids": "vs_any"}, 400, "kwargs.vector_db_ids"),
        ({"query": "otters", "vector_db_ids": ["vs_missing"]}, 404, "kwargs.vector_db_ids"),
        ({"query": "otters", "vector_store_ids": ["vs_missing"]}, 404, "kwargs.vector_store_ids"),
        ({"query": "otters", "vector_db_ids": ["vs_any"], "query_config": {"max_chunks": 0}}, 400, "kwargs.query_config.max_chunks"),
        ({"query": "otters", "vector_db_ids": ["vs_any"], "query_config": "fast"}, 400, "kwargs.query_config"),
    ],
)
def test_bad_knowledge_search_kwargs_name_the_field(api, kwargs, status, param):
    response = api.post("/v1/tool-runtime/invoke", json={"tool_name": "knowledge_search", "kwargs": kwargs})
    assert response.status_code == status, response.text
    assert error_of(response)["param"] == param


def test_an_mcp_group_lists_its_servers_tools_everywhere(api, mcp_server, mcp_group):
    group = api.get(f"/v1/toolgroups/{mcp_group}").json()
    assert group["provider_id"] == MCP and group["mcp_endpoint"] == {"uri": mcp_server.url} and group["type"] == "tool_group"
    assert mcp_group in {g["identifier"] for g in api.get("/v1/toolgroups").json()["data"]}

    tools = api.get("/v1/tools", params={"toolgroup_id": mcp_group}).json()["data"]
    assert {t["name"] for t in tools} == TEST_TOOLS
    assert all(t["toolgroup_id"] == mcp_group and t["metadata"]["endpoint"] == mcp_server.url for t in tools)
    weather = next(t for t in tools if t["name"] == "get_weather")
    assert weather["description"] == "Get the current weather in a city."
    assert weather["input_schema"]["properties"]["city"]["type"] == "string"
    assert api.get("/v1/tools/get_weather").json() == weather
    assert TEST_TOOLS | {"knowledge_search"} <= tool_names(api.get("/v1/tools"))

    assert tool_names(api.get("/v1/tool-runtime/list-tools", params={"tool_group_id": mcp_group})) == TEST_TOOLS
    by_url = api.get("/v1/tool-runtime/list-tools", params={"mcp_endpoint.uri": mcp_server.url}).json()["data"]
    assert {t["name"] for t in by_url} == TEST_TOOLS
    assert all("toolgroup_id" not in t for t in by_url)


def test_invoking_mcp_tools_answers_their_exact_text(api, mcp_group):
    result = invoke(api, "get_weather", kwargs={"city": "Paris"})
    assert result["content"] == [{"type": "text", "text": "The weather in Paris is sunny, 21 degrees Celsius."}]
    assert result.get("error_message") is None
    assert invoke(api, f"{mcp_group}/add", kwargs={"a": 2, "b": 40})["content"][0]["text"] == "42"


def test_authorization_reaches_the_mcp_server_as_a_bearer_token(api, mcp_group):
    assert invoke(api, "whoami", authorization="tok-123")["content"][0]["text"] == "Bearer tok-123"
    assert invoke(api, "whoami")["content"][0]["text"] == "anonymous"
    listed = api.get("/v1/tool-runtime/list-tools", params={"tool_group_id": mcp_group, "authorization": "tok-123"})
    assert tool_names(listed) == TEST_TOOLS


def test_a_failing_mcp_tool_answers_with_its_error(api, mcp_group):
    result = invoke(api, "fail", kwargs={"message": "boom"})
    assert "boom" in result["error_message"] and result["error_code"] == 1


def test_an_mcp_server_that_went_down_answers_with_an_error_message_in_time(api):
    try:
        with McpServerProcess(transport="streamable-http") as doomed:
            register(api, "mcp::doomed", MCP, mcp_endpoint={"uri": doomed.url})
            assert "get_weather" in tool_names(api.get("/v1/tools", params={"toolgroup_id": "mcp::doomed"}))
        started = time.monotonic()
        result = invoke(api, "mcp::doomed/get_weather", kwargs={"city": "Oslo"})
        assert time.monotonic() - started < 15
        assert "mcp::doomed" in result["error_message"] and result["error_code"] == 1
        assert result["content"] == []
    finally:
        api.delete("/v1/toolgroups/mcp::doomed")


def test_an_unreachable_group_is_503_alone_and_left_out_of_every_list(api, mcp_group):
    register(api, "mcp::nowhere", MCP, mcp_endpoint={"uri": closed_port_url()})
    try:
        alone = api.get("/v1/tools", params={"toolgroup_id": "mcp::nowhere"})
        assert alone.status_code == 503 and "mcp::nowhere" in error_of(alone)["message"]
        assert TEST_TOOLS <= tool_names(api.get("/v1/tools"))
        missing = api.post("/v1/tool-runtime/invoke", json={"tool_name": "mcp::nowhere/get_weather", "kwargs": {}})
        assert missing.status_code == 404 and "could not be reached" in error_of(missing)["message"]
    finally:
        api.delete("/v1/toolgroups/mcp::nowhere")


def test_registering_again_is_a_no_op_but_a_new_definition_is_409(api, mcp_server, mcp_group):
    register(api, mcp_group, MCP, mcp_endpoint={"uri": mcp_server.url})
    taken = api.post("/v1/toolgroups", json={"toolgroup_id": mcp_group, "provider_id": MCP, "mcp_endpoint": {"uri": "http://elsewhere/mcp"}})
    assert taken.status_code == 409
    error = error_of(taken)
    assert error["param"] == "toolgroup_id" and mcp_group in error["message"]
    assert api.get(f"/v1/toolgroups/{mcp_group}").json()["mcp_endpoint"] == {"uri": mcp_server.url}


def test_an_unregistered_group_is_404_afterwards(api, mcp_server):
    register(api, "mcp::fleeting", MCP, mcp_endpoint={"uri": mcp_server.url})
    assert api.delete("/v1/toolgroups/mcp::fleeting").status_code == 200
    for response in (api.get("/v1/toolgroups/mcp::fleeting"), api.delete("/v1/toolgroups/mcp::fleeting")):
        assert response.status_code == 404
        error = error_of(response)
        assert error["param"] == "toolgroup_id" and "mcp::fleeting" in error["message"]
    assert "mcp::fleeting" not in {g["identifier"] for g in api.get("/v1/toolgroups").json()["data"]}


def test_a_group_records_its_owner_and_builtin_rag_comes_from_the_distribution(api, stack, mcp_server):
    # The gateway drops a claimed principal (auth is off there): the mesh's own port takes it.
    owner = [("x-stackmesh-principal", "team-a")]
    channel = grpc.insecure_channel(stack.service_address("agents"))
    groups = pb_grpc.ToolGroupsServiceStub(channel)
    groups.RegisterToolGroup(
        pb.RegisterToolGroupRequest(toolgroup_id="mcp::owned", provider_id=MCP, mcp_endpoint={"uri": mcp_server.url}), metadata=owner, timeout=30
    )
    try:
        with psycopg.connect(stack.config.postgres.url) as conn:
            found = conn.execute(
                "SELECT id, owner, source FROM agents.resources WHERE kind = 'tool_groups' AND id = ANY(%s)",
                (["mcp::owned", "builtin::rag"],),
            ).fetchall()
        assert sorted(found) == [("builtin::rag", "anonymous", "config"), ("mcp::owned", "team-a", "api")]
        # Its owner's, not the gateway's anonymous callers'.
        assert api.get("/v1/toolgroups/mcp::owned").status_code == 404
    finally:
        groups.UnregisterToolGroup(pb.UnregisterToolGroupRequest(toolgroup_id="mcp::owned"), metadata=owner, timeout=30)
        channel.close()


@pytest.mark.parametrize(
    "body, status, param, named",
    [
        ({"toolgroup_id": "x::y", "provider_id": "no-such-runtime"}, 400, "provider_id", ["model-context-protocol", "rag-runtime"]),
        ({"toolgroup_id": "mcp::y", "provider_id": MCP}, 400, "mcp_endpoint", ["mcp_endpoint.uri"]),
        ({"toolgroup_id": "mcp::y", "provider_id": MCP, "mcp_endpoint": {"uri": "ftp://host/mcp"}}, 400, "mcp_endpoint.uri", ["http"]),
        ({"provider_id": "rag-runtime"}, 400, "toolgroup_id", []),
        ({"toolgroup_id": "a/b", "provider_id": "rag-runtime"}, 400, "toolgroup_id", []),
        ({"toolgroup_id": "rag::y", "provider_id": "rag-runtime", "args": {"vector_db_ids": "vs_1"}}, 400, "args.vector_db_ids", []),
        ({"toolgroup_id": "rag::y", "provider_id": "rag-runtime", "mcp_endpoint": {"uri": "http://h/mcp"}}, 400, "mcp_endpoint", []),
    ],
)
def test_bad_registrations_name_the_field(api, body, status, param, named):
    response = api.post("/v1/toolgroups", json=body)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["param"] == param and all(name in error["message"] for name in named)


@pytest.mark.parametrize(
    "method, path, params, status, param",
    [
        ("GET", "/v1/toolgroups/no::such", None, 404, "toolgroup_id"),
        ("DELETE", "/v1/toolgroups/no::such", None, 404, "toolgroup_id"),
        ("GET", "/v1/tools", {"toolgroup_id": "no::such"}, 404, "toolgroup_id"),
        ("GET", "/v1/tools/no_such_tool", None, 404, "tool_name"),
        ("GET", "/v1/tool-runtime/list-tools", {"tool_group_id": "no::such"}, 404, "tool_group_id"),
        ("GET", "/v1/tool-runtime/list-tools", {"mcp_endpoint.uri": "ftp://host/mcp"}, 400, "mcp_endpoint.uri"),
        ("GET", "/v1/tool-runtime/list-tools", {"mcp_endpoint.uri": "http://h/mcp", "tool_group_id": "builtin::rag"}, 400, "mcp_endpoint"),
    ],
)
def test_unknown_names_and_bad_queries_name_the_field(api, method, path, params, status, param):
    response = api.request(method, path, params=params)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["param"] == param
    if status == 404:
        assert "no::such" in error["message"] or "no_such_tool" in error["message"]


def test_invoking_an_unknown_tool_is_404_naming_it(api):
    response = api.post("/v1/tool-runtime/invoke", json={"tool_name": "no_such_tool", "kwargs": {}})
    assert response.status_code == 404
    error = error_of(response)
    assert error["param"] == "tool_name" and "no_such_tool" in error["message"]


def test_tool_groups_over_grpc(stack):
    with grpc.insecure_channel(stack.service_address("agents")) as channel:
        groups = pb_grpc.ToolGroupsServiceStub(channel)
        assert "builtin::rag" in {g.identifier for g in groups.ListToolGroups(pb.ListToolGroupsRequest(), timeout=10).data}
        with pytest.raises(grpc.RpcError) as caught:
            groups.GetToolGroup(pb.GetToolGroupRequest(toolgroup_id="no::such"), timeout=10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
