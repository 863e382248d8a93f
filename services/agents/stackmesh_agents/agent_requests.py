"""Llama Stack agent turns on the Responses agent loop: an agent's config and a turn's messages
(or a resume's tool responses) as one create-response request; turn_steps.py turns the
loop's events back into the turn's steps.

A turn is one response chained to the session's previous one, so the transcript lives in the
response store only. Pure: the servicer resolves tool groups and runs the loop."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from stackmesh_common.errors import InvalidArgument, StackmeshError
from stackmesh_agents.items import Item
from stackmesh_agents.tool_groups import VECTOR_STORE_KEYS

Json = dict[str, Any]

# What Llama Stack calls builtin::rag's one tool; the loop's file_search stands in for it.
KNOWLEDGE_SEARCH = "knowledge_search"
RAG_GROUP_TOOLS = (KNOWLEDGE_SEARCH, "file_search")
# What an MCP tool group's ID may not hold of a Responses server_label.
MCP_LABEL_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def new_id() -> str:
    """Llama Stack's IDs of agents, sessions, turns and steps are UUIDs."""
    return str(uuid.uuid4())


def now() -> str:
    return rfc3339(datetime.now(timezone.utc))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- errors of the Responses request, renamed to the agents API field they came from ---


@dataclass(frozen=True)
class Rename:
    """A Responses request param (`tools[1]`) and the agents API field it came from."""

    old: str
    new: str
    keep_suffix: bool = True  # `tools[0].name` → `agent_config.client_tools[0].name`

    def apply(self, param: str) -> str | None:
        if param == self.old:
            return self.new
        if param.startswith(self.old) and param[len(self.old)] in ".[":
            return self.new + param[len(self.old) :] if self.keep_suffix else self.new
        return None


def renamed(error: StackmeshError, renames: list[Rename]) -> StackmeshError:
    """The error with its param (and the params its message quotes) named as the caller sent them."""

    def rename(param: str) -> str:
        # The most specific rename wins: `tools[0].parameters` before `tools[0]`.
        for entry in sorted(renames, key=lambda r: len(r.old), reverse=True):
            if (new := entry.apply(param)) is not None:
                return new
        return param

    if not error.param or rename(error.param) == error.param:
        return error
    message = re.sub(r"`([^`]+)`", lambda match: f"`{rename(match.group(1))}`", error.message)
    return type(error)(message, param=rename(error.param), reason=error.reason)


# --- an agent's tools as Responses tools ---


@dataclass(frozen=True)
class SourcedTool:
    """A Responses tool and how to rename errors about it: `tools[i]` is filled in by index."""

    tool: Json
    where: str  # the agents API field it came from
    suffixes: tuple[tuple[str, str], ...] = ()  # Responses sub-field → agents API sub-field
    keep_suffix: bool = True

    def renames(self, index: int) -> list[Rename]:
        old = f"tools[{index}]"
        return [Rename(old, self.where, self.keep_suffix)] + [Rename(f"{old}.{a}", f"{self.where}.{b}") for a, b in self.suffixes]


@dataclass(frozen=True)
class ToolgroupRef:
    """One `toolgroups` entry: a group ID, optionally `<group>/<tool>`, and its args."""

    group_id: str
    tool_name: str | None
    args: Json
    where: str


def toolgroup_refs(entries: list[Any], where: str) -> list[ToolgroupRef]:
    refs = []
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        name, args = (entry.get("name"), entry.get("args")) if isinstance(entry, dict) else (entry, None)
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f'`{at}` must be a tool group ID or {{"name": tool group ID, "args": {{…}}}}', param=at)
        if args is not None and not isinstance(args, dict):
            raise InvalidArgument(f"`{at}.args` must be an object", param=f"{at}.args")
        # Llama Stack's "builtin::rag/knowledge_search": one tool of the group.
        group_id, _, tool_name = name.partition("/")
        refs.append(ToolgroupRef(group_id, tool_name or None, args or {}, at))
    return refs


def rag_tool(ref: ToolgroupRef, group_args: Json | None) -> SourcedTool:
    """builtin::rag as a file_search tool over the stores its entry's args (else its registration) name."""
    if ref.tool_name not in (None, *RAG_GROUP_TOOLS):
        raise InvalidArgument(f"`{ref.where}`: tool group {ref.group_id!r} has no tool {ref.tool_name!r}", param=ref.where)
    for source in (ref.args, group_args or {}):
        for key in VECTOR_STORE_KEYS:
            ids = source.get(key)
            if ids is None:
                continue
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
                param = f"{ref.where}.args.{key}"
                raise InvalidArgument(f"`{param}` must be a non-empty list of vector store IDs", param=param)
            return SourcedTool(
                {"type": "file_search", "vector_store_ids": ids}, ref.where, suffixes=(("vector_store_ids", f"args.{key}"),), keep_suffix=False
            )
    raise InvalidArgument(
        f"`{ref.where}.args.vector_db_ids` is required: the vector stores {ref.group_id} searches", param=f"{ref.where}.args.vector_db_ids"
    )


def mcp_tool(ref: ToolgroupRef, endpoint: str) -> SourcedTool:
    """An MCP tool group as the Responses `mcp` tool: the loop lists and calls the server's tools."""
    label = MCP_LABEL_UNSAFE.sub("_", ref.group_id)[:64]  # "mcp::files" is no valid server_label
    tool: Json = {"type": "mcp", "server_label": label, "server_url": endpoint, "require_approval": "never"}
    if ref.tool_name:
        tool["allowed_tools"] = [ref.tool_name]
    return SourcedTool(tool, ref.where, keep_suffix=False)


def client_tools(defs: list[Json]) -> list[SourcedTool]:
    """Tools the caller runs: Responses function tools, whose calls pause the turn."""
    tools = []
    for index, tool_def in enumerate(defs):
        tool = {"type": "function", "name": tool_def.get("name", "")}
        if tool_def.get("description"):
            tool["description"] = tool_def["description"]
        if tool_def.get("input_schema"):
            tool["parameters"] = tool_def["input_schema"]
        tools.append(SourcedTool(tool, f"agent_config.client_tools[{index}]", suffixes=(("parameters", "input_schema"),)))
    return tools


# --- a turn's messages as Responses input items ---


def _parts(content: Any, where: str) -> list[Json]:
    """Llama Stack's interleaved content as Responses input parts."""
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    if content is None or content == []:
        raise InvalidArgument(f"`{where}` is required: a string, a content item or a non-empty list of them", param=where)
    items, listed = (content, True) if isinstance(content, list) else ([content], False)
    parts = []
    for index, item in enumerate(items):
        at = f"{where}[{index}]" if listed else where
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text" and isinstance(item.get("text"), str):
            parts.append({"type": "input_text", "text": item["text"]})
        elif kind == "image" and isinstance(url := (item.get("image") or {}).get("url"), dict) and url.get("uri"):
            parts.append({"type": "input_image", "image_url": url["uri"], "detail": "auto"})
        elif kind == "image":
            raise InvalidArgument(f'`{at}.image` must be {{"url": {{"uri": …}}}}; inline image data is not supported', param=f"{at}.image")
        else:
            raise InvalidArgument(f'`{at}` must be {{"type": "text", "text": …}} or {{"type": "image", "image": …}}', param=at)
    return parts


def _tool_output(content: Any, where: str) -> str | list[Json]:
    if isinstance(content, str):
        return content
    parts = _parts(content, where)
    return "".join(part["text"] for part in parts) if all(part["type"] == "input_text" for part in parts) else parts


def input_items(messages: list[Json], documents: list[Json]) -> list[Item]:
    """User messages as messages, tool messages as function call outputs; the documents' text
    follows as one more user message."""
    if not messages:
        raise InvalidArgument("`messages` is required: the user or tool messages that start the turn", param="messages")
    items: list[Item] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        if role == "user":
            parts = _parts(message.get("content"), f"{where}.content")
            if message.get("context") is not None:
                parts += _parts(message["context"], f"{where}.context")
            items.append({"type": "message", "role": "user", "content": parts})
        elif role == "tool":
            if not message.get("call_id"):
                raise InvalidArgument(f"`{where}.call_id` is required for a tool message", param=f"{where}.call_id")
            output = _tool_output(message.get("content"), f"{where}.content")
            items.append({"type": "function_call_output", "call_id": message["call_id"], "output": output})
        else:
            raise InvalidArgument(f"`{where}.role` must be user or tool, got {role!r}", param=f"{where}.role")
    texts = []
    for index, document in enumerate(documents):
        where = f"documents[{index}].content"
        content = document.get("content")
        if isinstance(content, dict) and "uri" in content or any(part["type"] != "input_text" for part in _parts(content, where)):
            raise InvalidArgument(f"`{where}` must be text: documents by URL and images are not supported", param=where)
        texts += _parts(content, where)
    if texts:
        items.append({"type": "message", "role": "user", "content": texts})
    return items


def pending_calls(turn: Json) -> list[Json]:
    """The client tool calls a turn awaiting input waits for."""
    return list((turn.get("output_message") or {}).get("tool_calls") or [])


def resume_items(tool_responses: list[Json], pending: list[Json]) -> list[Item]:
    """The results of exactly the calls the turn awaits, as function call outputs."""
    awaited = [call["call_id"] for call in pending]
    items: list[Item] = []
    for index, response in enumerate(tool_responses):
        where = f"tool_responses[{index}]"
        call_id = response.get("call_id")
        if not call_id:
            raise InvalidArgument(f"`{where}.call_id` is required", param=f"{where}.call_id")
        if call_id not in awaited:
            raise InvalidArgument(f"`{where}.call_id` {call_id!r} is not a call the turn awaits ({', '.join(awaited)})", param=f"{where}.call_id")
        if any(item["call_id"] == call_id for item in items):
            raise InvalidArgument(f"`{where}.call_id` {call_id!r} is answered twice", param=f"{where}.call_id")
        items.append({"type": "function_call_output", "call_id": call_id, "output": _tool_output(response.get("content"), f"{where}.content")})
    if missing := [call_id for call_id in awaited if call_id not in {item["call_id"] for item in items}]:
        raise InvalidArgument(f"`tool_responses` must answer every call the turn awaits; missing {', '.join(missing)}", param="tool_responses")
    return items


# --- the agent's config as a create-response request ---


@dataclass(frozen=True)
class ResponseRequest:
    body: Json  # CreateResponseRequest JSON
    renames: list[Rename]


def _sampling(params: Json) -> Json:
    """Llama Stack's sampling strategy; unset is its default, greedy."""
    where = "agent_config.sampling_params"
    strategy = params.get("strategy") or {}
    kind = strategy.get("type") or "greedy"
    if kind == "greedy":
        body: Json = {"temperature": 0.0}
    elif kind == "top_p":
        body = {"top_p": strategy.get("top_p", 0.95), **({"temperature": strategy["temperature"]} if "temperature" in strategy else {})}
    elif kind == "top_k":
        # Responses has no top-k: the model samples at its default temperature.
        if strategy.get("top_k", 1) < 1:
            raise InvalidArgument(f"`{where}.strategy.top_k` must be at least 1", param=f"{where}.strategy.top_k")
        body = {}
    else:
        raise InvalidArgument(f"`{where}.strategy.type` must be greedy, top_p or top_k, got {kind!r}", param=f"{where}.strategy.type")
    if params.get("max_tokens"):
        body["max_output_tokens"] = params["max_tokens"]
    return body


def _text_format(response_format: Json | None) -> Json | None:
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind != "json_schema":
        param = "agent_config.response_format.type"
        raise InvalidArgument(f"`{param}` must be json_schema (grammars are not supported), got {kind!r}", param=param)
    return {"format": {"type": "json_schema", "name": "response", "schema": response_format.get("json_schema")}}


def _tool_choice(choice: str, tools: list[Json], where: str) -> Any:
    """Llama Stack's tool_choice: auto, required, none, or the name of a tool to call."""
    if choice in ("auto", "required", "none"):
        return choice
    if any(tool["type"] == "function" and tool["name"] == choice for tool in tools):
        return {"type": "function", "name": choice}
    if choice in RAG_GROUP_TOOLS and any(tool["type"] == "file_search" for tool in tools):
        return {"type": "file_search"}
    raise InvalidArgument(f"`{where}` must be auto, required, none, or the name of a client tool or {KNOWLEDGE_SEARCH}, got {choice!r}", param=where)


def _shields(config: Json) -> tuple[list[str], list[Rename]]:
    """Input and output shields as one guardrail list: the loop runs each shield on both."""
    shields: list[str] = []
    renames = []
    for kind in ("input_shields", "output_shields"):
        for index, shield in enumerate(config.get(kind) or []):
            if shield not in shields:
                renames.append(Rename(f"guardrails[{len(shields)}]", f"agent_config.{kind}[{index}]"))
                shields.append(shield)
    return shields, renames


def remaining_iters(turn: Json, max_infer_iters: int) -> int:
    """What is left of a turn's budget of inference calls once it is resumed."""
    return max_infer_iters - sum(1 for step in turn["steps"] if step["step_type"] == "inference")


def response_request(
    config: Json,
    tools: list[SourcedTool],
    items: list[Item],
    *,
    previous_response_id: str | None,
    tool_config: Json | None,
    resumed_with: int | None = None,
) -> ResponseRequest:
    """One turn, or the rest of a resumed one (`resumed_with` inference calls left), as a
    stored response chained to the session's last.

    `tool_config` is the turn's override of the agent's. A forced tool choice holds for the
    turn's first inference call only, as in a response: a resumed turn chooses freely, and
    its last call allowed must answer, so that max_infer_iters bounds the turn across resumes."""
    body: Json = {"model": config.get("model", ""), "input": items, "store": True, **_sampling(config.get("sampling_params") or {})}
    renames = [
        Rename("model", "agent_config.model"),
        Rename("instructions", "agent_config.instructions"),
        Rename("temperature", "agent_config.sampling_params.strategy.temperature"),
        Rename("top_p", "agent_config.sampling_params.strategy.top_p"),
        Rename("max_output_tokens", "agent_config.sampling_params.max_tokens"),
        Rename("max_infer_iters", "agent_config.max_infer_iters"),
        Rename("text.format", "agent_config.response_format", keep_suffix=False),
        Rename("tools", "agent_config.toolgroups"),
        Rename("guardrails", "agent_config.input_shields"),
        Rename("input", "messages" if resumed_with is None else "tool_responses"),
        Rename("previous_response_id", "session_id", keep_suffix=False),
    ]
    if config.get("instructions"):
        body["instructions"] = config["instructions"]
    if previous_response_id:
        body["previous_response_id"] = previous_response_id
    if resumed_with is not None:
        body["max_infer_iters"] = max(resumed_with, 1)
    elif config.get("max_infer_iters") is not None:
        body["max_infer_iters"] = config["max_infer_iters"]
    if (text := _text_format(config.get("response_format"))) is not None:
        body["text"] = text
    body["tools"] = [sourced.tool for sourced in tools]
    for index, sourced in enumerate(tools):
        renames += sourced.renames(index)
    if any(tool["type"] == "file_search" for tool in body["tools"]):
        body["include"] = ["file_search_call.results"]  # a knowledge_search response names its files
    choice, where = _chosen_tool(config, tool_config)
    if resumed_with is not None:
        choice = "none" if choice == "none" or resumed_with <= 1 else None
    if choice and choice != "auto":
        body["tool_choice"] = _tool_choice(choice, body["tools"], where)
        renames.append(Rename("tool_choice", where))
    body["guardrails"], shield_renames = _shields(config)
    return ResponseRequest(body, renames + shield_renames)


def _chosen_tool(config: Json, tool_config: Json | None) -> tuple[str | None, str]:
    """The turn's tool_config wins over the agent's, which wins over the agent's deprecated tool_choice."""
    for choice, where in (
        ((tool_config or {}).get("tool_choice"), "tool_config.tool_choice"),
        ((config.get("tool_config") or {}).get("tool_choice"), "agent_config.tool_config.tool_choice"),
        (config.get("tool_choice"), "agent_config.tool_choice"),
    ):
        if choice:
            return choice, where
    return None, ""
