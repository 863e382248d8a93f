"""A create-response request checked and resolved into the loop's Turn: its context (a
previous response or a conversation), prompt, tools, model and sampling."""

from __future__ import annotations

import time
from typing import Any

from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh_common.access import Action
from stackmesh_common.call_context import attributes, encode_attributes, principal
from stackmesh_common.errors import InvalidArgument, NotFound
from stackmesh_common.metadata import check_metadata
from stackmesh_common.protojson import request_to_dict
from stackmesh_agents.guardrails import shield_ids
from stackmesh_agents.items import Item, approvals_answered, function_calls_answered, new_id, normalize_input
from stackmesh_agents.loop import AgentLoop, Outcome, Turn
from stackmesh_agents.prompts import PromptStore, resolve
from stackmesh_agents.settings import Settings
from stackmesh_agents.store import ConversationStore, ResponseStore
from stackmesh_agents.tools import chat_tool_choice, response_format, toolset

# Request fields passed to inference as they are (Responses and chat completions share them).
SAMPLING = ("temperature", "top_p", "frequency_penalty", "presence_penalty", "parallel_tool_calls")
# Response fields that echo the request.
ECHOED = ("instructions", "prompt", "previous_response_id", "temperature", "top_p", "frequency_penalty", "presence_penalty", "max_output_tokens",
          "max_tool_calls", "top_logprobs", "truncation", "prompt_cache_key", "safety_identifier", "service_tier", "reasoning")
# Deadline of looking a model up before the response starts.
LOOKUP_TIMEOUT_S = 30.0
# How long a model found by a look-up is trusted: a look-up is a peer call on every request
# otherwise. A model unregistered meanwhile fails the response on its inference call instead.
KNOWN_MODEL_TTL_S = 10.0
# Expired look-ups are dropped once this many are remembered (one per model and caller).
MAX_KNOWN_MODELS = 1024
# States of a background response that has not finished yet.
UNFINISHED = ("queued", "in_progress")
# Never echoed: secrets for MCP servers.
SECRET_TOOL_FIELDS = ("headers", "authorization")


def _conversation_id(value: Any) -> str | None:
    """`conversation` is an id or OpenAI's {"id": …} object."""
    if value is None:
        return None
    conversation_id = value.get("id") if isinstance(value, dict) else value
    if not isinstance(conversation_id, str) or not conversation_id:
        raise InvalidArgument('`conversation` must be a conversation id or {"id": …}', param="conversation")
    return conversation_id


def _check_ranges(body: dict[str, Any]) -> None:
    for name, low, high in (("temperature", 0, 2), ("top_p", 0, 1), ("frequency_penalty", -2, 2), ("presence_penalty", -2, 2)):
        if body.get(name) is not None and not low <= body[name] <= high:
            raise InvalidArgument(f"`{name}` must be between {low} and {high}, got {body[name]:g}", param=name)
    if body.get("max_output_tokens") is not None and body["max_output_tokens"] < 16:
        raise InvalidArgument(f"`max_output_tokens` must be at least 16, got {body['max_output_tokens']}", param="max_output_tokens")
    for name in ("max_tool_calls", "max_infer_iters"):
        if body.get(name) is not None and body[name] < 1:
            raise InvalidArgument(f"`{name}` must be at least 1, got {body[name]}", param=name)
    check_metadata(body.get("metadata") or {})


class TurnBuilder:
    def __init__(
        self, loop: AgentLoop, responses: ResponseStore, conversations: ConversationStore, prompts: PromptStore, settings: Settings
    ) -> None:
        # The loop's peers (inference, file search, guardrails) also check a request up front.
        self.loop = loop
        self.responses = responses
        self.conversations = conversations
        self.prompts = prompts
        self.settings = settings
        # (model id, caller) → when its look-up expires: a model one tenant registered is
        # not another's to use, so a look-up holds only for callers with the same identity.
        self._known_models: dict[tuple[str, str, str], float] = {}

    async def build(self, request: pb.CreateResponseRequest, *, response_id: str | None = None, created_at: int | None = None) -> Turn:
        """Everything that can be the caller's mistake is found here, before any event is sent.
        A background response's worker builds it again with the ID its create answered with."""
        body = request_to_dict(request)
        if not body.get("model"):
            raise InvalidArgument("`model` is required", param="model")
        if body.get("background"):
            if body.get("store") is False:
                raise InvalidArgument("`background` responses are stored: send `store` true or leave it out", param="store")
            if body.get("stream"):
                raise InvalidArgument(
                    "streaming a background response is not supported; create it without `stream`, then poll or watch it", param="stream"
                )
        _check_ranges(body)
        new_input = normalize_input(body.get("input"))
        conversation_id = _conversation_id(body.get("conversation"))
        if conversation_id and body.get("previous_response_id"):
            raise InvalidArgument("give `previous_response_id` or `conversation`, not both", param="conversation")
        context: list[Item] = []
        if body.get("previous_response_id"):
            previous = await self.responses.get(body["previous_response_id"], param="previous_response_id")
            if previous.response["status"] in UNFINISHED:
                raise InvalidArgument(
                    f"response {body['previous_response_id']!r} is still {previous.response['status']}; continue it once it has finished",
                    param="previous_response_id",
                )
            context = previous.continuation
        elif conversation_id:
            # The response adds its items to the conversation: the caller must be able to change it.
            await self.conversations.get(conversation_id, param="conversation", action=Action.WRITE)
            context = await self.conversations.items(conversation_id)
        function_calls_answered([*context, *new_input])
        approvals_answered(context, new_input)
        tools = toolset(body.get("tools") or [])
        if tools.file_search is not None:
            if self.loop.file_search is None:
                raise InvalidArgument("the file_search tool needs the vector_io service, which this distribution does not run", param="tools")
            index = next(i for i, tool in enumerate(body["tools"]) if tool["type"] == "file_search")
            await self.loop.file_search.check_stores(tools.file_search, f"tools[{index}]")
        tool_choice = chat_tool_choice(body.get("tool_choice"), tools)
        shields = shield_ids(body.get("guardrails") or [])
        if shields:
            if self.loop.guardrails is None:
                raise InvalidArgument("`guardrails` need the safety service, which this distribution does not run", param="guardrails")
            await self.loop.guardrails.check_shields(shields)
        await self._check_model(body["model"])
        instructions = body.get("instructions")
        if body.get("prompt"):
            # The stored template comes first, as the system message the caller's instructions extend.
            prompt = body["prompt"]
            if not prompt.get("id"):
                raise InvalidArgument("`prompt.id` is required", param="prompt.id")
            text = await resolve(self.prompts, prompt["id"], prompt.get("version"), prompt.get("variables") or {})
            instructions = f"{text}\n\n{instructions}" if instructions else text
        sampling = {name: body[name] for name in SAMPLING if name in body}
        if body.get("max_output_tokens") is not None:
            sampling["max_tokens"] = body["max_output_tokens"]
        fmt = response_format(body.get("text"))
        if fmt is not None:
            sampling["response_format"] = fmt
        response = {
            "id": response_id or new_id("resp"),
            "object": "response",
            "created_at": created_at or int(time.time()),
            "model": body["model"],
            "store": body.get("store", True),
            "background": bool(body.get("background")),
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": [{k: v for k, v in tool.items() if k not in SECRET_TOOL_FIELDS} for tool in body.get("tools") or []],
            "text": body.get("text") or {"format": {"type": "text"}},
            "metadata": body.get("metadata") or {},
            **{name: body[name] for name in ECHOED if name in body},
        }
        if conversation_id:
            response["conversation"] = {"id": conversation_id}
        return Turn(
            response=response,
            instructions=instructions,
            context=context,
            input=new_input,
            tools=tools,
            tool_choice=tool_choice,
            sampling=sampling,
            max_infer_iters=body.get("max_infer_iters") or self.settings.max_infer_iters,
            max_tool_calls=body.get("max_tool_calls"),
            include=frozenset(body.get("include") or []),
            guardrails=shields,
            conversation_id=conversation_id,
        )

    async def _check_model(self, model: str) -> None:
        key = (model, principal.get(), encode_attributes(attributes.get()))
        if self._known_models.get(key, 0.0) > time.monotonic():
            return
        if await self.loop.inference.get_model(model, timeout_s=LOOKUP_TIMEOUT_S, param="model") is None:
            raise NotFound(f"The model `{model}` does not exist", param="model", reason="model_not_found")
        now = time.monotonic()
        if len(self._known_models) > MAX_KNOWN_MODELS:
            self._known_models = {k: expires for k, expires in self._known_models.items() if expires > now}
        self._known_models[key] = now + KNOWN_MODEL_TTL_S

    async def finish(self, turn: Turn, outcome: Outcome) -> None:
        """Stores the response and appends its items to its conversation; idempotent (a
        redelivered background response writes the same rows again)."""
        if turn.response["background"]:
            await self.responses.update(outcome.response)  # a response deleted meanwhile stays deleted
        elif turn.response["store"]:
            await self.responses.save(outcome.response, turn.input, turn.context)
        if turn.conversation_id and outcome.response["status"] != "failed":
            await self.conversations.append(turn.conversation_id, [*turn.input, *outcome.response["output"]], param="conversation")
