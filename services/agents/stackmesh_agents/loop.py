"""The agent loop: inference over gRPC → tool calls → server-side tools → inference again,
until the model answers, calls the caller's functions, or a bound is reached.

It runs as a stream of OpenAI `response.*` events (plain JSON) in either case: a streamed
response forwards them, a plain one keeps the final state. One code path, so both return
the same output items.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from stackmesh.inference.v1 import inference_service_pb2 as inference_pb
from stackmesh_common.errors import StackmeshError
from stackmesh_common.peers import InferenceClient
from stackmesh_common.protojson import from_json
from stackmesh_agents.file_search import RESULTS_INCLUDE, FileSearch
from stackmesh_agents.guardrails import Guardrails, Violation
from stackmesh_agents.items import Item, chat_tool_call, new_id, to_chat_messages
from stackmesh_agents.mcp import McpClient
from stackmesh_agents.mcp_tools import McpRun
from stackmesh_agents.settings import Settings
from stackmesh_agents.tools import MCP, Toolset

log = logging.getLogger("stackmesh.agents")

Event = dict[str, Any]
# What the model reads for a built-in tool call past the request's max_tool_calls.
SKIPPED_CALL = "Not run: this response has made all the tool calls it may. Answer with what you have."


@dataclass
class Turn:
    """One response to produce, checked and resolved by the servicer."""

    response: dict[str, Any]  # the Response JSON echoing the request (id, model, tools, …)
    instructions: str | None
    context: list[Item]  # items before this request's input (previous response, conversation)
    input: list[Item]
    tools: Toolset
    tool_choice: Any  # in the chat completions shape
    sampling: dict[str, Any]  # chat completion fields: temperature, max_tokens, response_format, …
    max_infer_iters: int
    max_tool_calls: int | None
    include: frozenset[str]
    guardrails: list[str]  # shield ids run on the input and on the answer
    conversation_id: str | None = None  # the conversation it reads from and appends to


@dataclass
class Outcome:
    """Where a run ended: the final Response JSON, and the error that failed it, if any."""

    response: dict[str, Any] = field(default_factory=dict)
    error: StackmeshError | None = None


class Events:
    """Numbers events from 0 in the order they are sent."""

    def __init__(self) -> None:
        self.sequence = 0

    def __call__(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event


@dataclass
class _Call:
    index: int
    call_id: str = ""
    name: str = ""
    arguments: str = ""
    item: Item | None = None  # set for the caller's function calls, which stream as items
    output_index: int = -1


class AgentLoop:
    def __init__(
        self, inference: InferenceClient, file_search: FileSearch | None, guardrails: Guardrails | None, mcp: McpClient, settings: Settings
    ) -> None:
        self.inference = inference
        self.file_search = file_search
        self.guardrails = guardrails
        self.mcp = mcp
        self.settings = settings

    async def run(self, turn: Turn, outcome: Outcome) -> AsyncIterator[Event]:
        """The events of one response; `outcome` holds the final response when it ends. A
        failure after the response started becomes `response.failed`, never an exception."""
        events = Events()
        response = {**turn.response, "status": "in_progress", "output": []}
        yield events("response.created", response=dict(response))
        yield events("response.in_progress", response=dict(response))
        usage = {
            "input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0},
        }  # fmt: skip
        try:
            async for event in self._iterate(turn, response, usage, events):
                yield event
        except StackmeshError as exc:
            outcome.error = exc
            response.update(status="failed", error={"code": exc.reason, "message": str(exc)})
        except Exception:
            log.exception("response %s failed", response["id"])
            outcome.error = StackmeshError("the response failed on an internal error")
            response.update(status="failed", error={"code": "server_error", "message": "the response failed on an internal error"})
        response.update(usage=usage, completed_at=int(time.time()))
        outcome.response = response
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(response["status"], "response.failed")
        yield events(kind, response=response)

    async def _iterate(self, turn: Turn, response: dict[str, Any], usage: dict[str, int], events: Events) -> AsyncIterator[Event]:
        output: list[Item] = response["output"]
        messages = to_chat_messages(turn.instructions, [*turn.context, *turn.input])
        citations: list[tuple[str, str]] = []
        tool_calls = 0
        asked = to_chat_messages(None, turn.input)
        if turn.guardrails:
            violation = await self._guard(turn, asked)
            if violation is not None:
                for event in _Step(output, events, citations, hold_text=True).refuse(violation.user_message):
                    yield event
                response["status"] = "completed"
                return
        mcp = McpRun(self.mcp, turn.tools.mcp, {tool["function"]["name"] for tool in turn.tools.chat_tools})
        async for event in mcp.list_tools(turn.context, output, events):
            yield event
        async for event in mcp.run_approved(turn.input, turn.context, output, messages, events):
            yield event
        chat_tools = turn.tools.chat_tools + mcp.chat_tools
        first_choice = _mcp_choice(turn.tool_choice, mcp) if chat_tools else "auto"
        for iteration in range(turn.max_infer_iters):
            # A forced choice holds for the first call only; once the built-in tools have run
            # max_tool_calls times the model must answer.
            choice = first_choice if iteration == 0 else "auto"
            if turn.max_tool_calls is not None and tool_calls >= turn.max_tool_calls:
                choice = "none"
            # With guardrails the answer is held back until its shields pass.
            step = _Step(output, events, citations, lambda name: turn.tools.is_server_side(name) or name in mcp.bindings, hold_text=bool(turn.guardrails))
            async for event in self._infer(turn, messages, chat_tools, choice, step, usage):
                yield event
            refusal = None
            if turn.guardrails and step.text:
                violation = await self._guard(turn, [*asked, {"role": "assistant", "content": step.text}])
                refusal = violation.user_message if violation else None
            for event in step.close(refusal):
                yield event
            if step.finish_reason == "length" and not step.calls:
                response.update(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
                return
            server_calls = [call for call in step.calls if call.item is None]
            if not server_calls:
                break
            requested_calls = [chat_tool_call(c.call_id, c.name, c.arguments or "{}") for c in step.calls]
            messages.append({"role": "assistant", "content": step.text or None, "tool_calls": requested_calls})
            awaiting_approval = False
            for call in server_calls:
                if turn.max_tool_calls is not None and tool_calls >= turn.max_tool_calls:
                    # OpenAI ignores calls past the bound; the model still needs an answer to each.
                    messages.append({"role": "tool", "tool_call_id": call.call_id, "content": SKIPPED_CALL})
                    continue
                if call.name in mcp.bindings and mcp.needs_approval(call.name):
                    for event in mcp.ask_approval(call.name, call.arguments, output, events):
                        yield event
                    awaiting_approval = True
                    continue
                if call.name in mcp.bindings:
                    async for event in mcp.call(call.name, call.call_id, call.arguments, output, messages, events):
                        yield event
                else:
                    async for event in self._file_search(turn, call, output, messages, citations, events):
                        yield event
                tool_calls += 1
            if awaiting_approval or any(call.item is not None for call in step.calls):
                break  # the caller's functions or approvals come next; they continue the response
        response["status"] = "completed"

    async def _infer(
        self, turn: Turn, messages: list[dict[str, Any]], chat_tools: list[dict[str, Any]], choice: Any, step: "_Step", usage: dict[str, int]
    ) -> AsyncIterator[Event]:
        body: dict[str, Any] = {
            "model": turn.response["model"],
            "messages": messages,
            "store": False,
            "stream_options": {"include_usage": True},
            **turn.sampling,
        }
        if chat_tools:
            # With "none" the tools still go along: the model reads earlier calls against them.
            body.update(tools=chat_tools, tool_choice=choice)
        request = from_json(body, inference_pb.CreateChatCompletionRequest)
        async for chunk in self.inference.stream_chat_completion(request, timeout_s=self.settings.inference_timeout_s):
            if chunk.HasField("usage"):
                usage["input_tokens"] += chunk.usage.prompt_tokens
                usage["output_tokens"] += chunk.usage.completion_tokens
                usage["total_tokens"] += chunk.usage.total_tokens
            for chunk_choice in chunk.choices:
                delta = chunk_choice.delta
                if delta.content:
                    for event in step.text_delta(delta.content):
                        yield event
                for fragment in delta.tool_calls:
                    for event in step.call_delta(fragment):
                        yield event
                if chunk_choice.HasField("finish_reason"):
                    step.finish_reason = chunk_choice.finish_reason

    async def _guard(self, turn: Turn, messages: list[dict[str, Any]]) -> Violation | None:
        assert self.guardrails is not None
        return await self.guardrails.run(turn.guardrails, messages)

    async def _file_search(
        self, turn: Turn, call: _Call, output: list[Item], messages: list[dict[str, Any]], citations: list[tuple[str, str]], events: Events
    ) -> AsyncIterator[Event]:
        assert self.file_search is not None and turn.tools.file_search is not None
        try:
            query = str(json.loads(call.arguments or "{}").get("query") or "")
        except (ValueError, AttributeError):
            query = ""
        index = len(output)
        item: Item = {"type": "file_search_call", "id": new_id("fs"), "status": "in_progress", "queries": [query]}
        output.append(item)
        yield events("response.output_item.added", output_index=index, item=dict(item))
        yield events("response.file_search_call.in_progress", output_index=index, item_id=item["id"])
        yield events("response.file_search_call.searching", output_index=index, item_id=item["id"])
        outcome = await self.file_search.run(turn.tools.file_search, query, RESULTS_INCLUDE in turn.include)
        item.update(outcome.item, id=item["id"])
        citations += [f for f in outcome.files if f not in citations]
        messages.append({"role": "tool", "tool_call_id": call.call_id, "content": outcome.tool_output})
        yield events("response.file_search_call.completed", output_index=index, item_id=item["id"])
        yield events("response.output_item.done", output_index=index, item=item)


def _mcp_choice(choice: Any, mcp: McpRun) -> Any:
    """An {"type": "mcp", …} tool_choice as the chat function of the listed tool."""
    if not isinstance(choice, dict) or choice.get("type") != MCP:
        return choice
    if choice.get("name"):
        name = mcp.chat_name(choice["server_label"], choice["name"])
        return {"type": "function", "function": {"name": name}} if name else "auto"
    # Any tool of the server: the closest chat completions has is "required".
    return "required" if any(spec.server.label == choice["server_label"] for spec, _ in mcp.bindings.values()) else "auto"


class _Step:
    """One inference call's output as it streams: a message item for text, a function_call
    item per call of the caller's functions; built-in tool calls are only collected. Held
    text (guardrails) is sent whole at close, or replaced by a refusal."""

    def __init__(
        self, output: list[Item], events: Events, citations: list[tuple[str, str]], is_server_side: Callable[[str], bool] = lambda name: False,
        hold_text: bool = False,
    ) -> None:
        self.output = output
        self.is_server_side = is_server_side
        self.events = events
        self.citations = citations
        self.hold_text = hold_text
        self.text = ""
        self.message: Item | None = None
        self.message_index = -1
        self.calls: list[_Call] = []
        self.finish_reason = ""

    def text_delta(self, delta: str) -> list[Event]:
        self.text += delta
        if self.hold_text:
            return []
        events = self._start_message("output_text") if self.message is None else []
        events.append(self.events("response.output_text.delta", **self._where(), delta=delta, logprobs=[]))
        return events

    def call_delta(self, fragment: Any) -> list[Event]:
        call = next((c for c in self.calls if c.index == fragment.index), None)
        events = []
        if call is None:
            call = _Call(fragment.index, call_id=fragment.id or new_id("call"), name=fragment.function.name)
            self.calls.append(call)
            if not self.is_server_side(call.name):
                call.output_index = len(self.output)
                call.item = {"type": "function_call", "id": new_id("fc"), "call_id": call.call_id, "name": call.name, "arguments": "", "status": "in_progress"}
                self.output.append(call.item)
                events.append(self.events("response.output_item.added", output_index=call.output_index, item=dict(call.item)))
        if fragment.function.arguments:
            call.arguments += fragment.function.arguments
            if call.item is not None:
                events.append(
                    self.events("response.function_call_arguments.delta", item_id=call.item["id"], output_index=call.output_index, delta=fragment.function.arguments)
                )
        return events

    def close(self, refusal: str | None = None) -> list[Event]:
        if refusal is not None:
            events = self.refuse(refusal)
        elif self.text:
            events = self._finish_text()
        else:
            events = []
        for call in self.calls:
            if call.item is None:
                continue
            call.item.update(arguments=call.arguments or "{}", status="completed")
            events.append(
                self.events(
                    "response.function_call_arguments.done", item_id=call.item["id"], output_index=call.output_index, arguments=call.item["arguments"], name=call.name
                )
            )
            events.append(self.events("response.output_item.done", output_index=call.output_index, item=call.item))
        return events

    def refuse(self, refusal: str) -> list[Event]:
        """The answer (or the whole response) replaced by a refusal message."""
        events = self._start_message("refusal")
        events.append(self.events("response.refusal.delta", **self._where(), delta=refusal))
        events.append(self.events("response.refusal.done", **self._where(), refusal=refusal))
        part = {"type": "refusal", "refusal": refusal}
        return events + self._done_message(part)

    def _finish_text(self) -> list[Event]:
        events = []
        if self.message is None:  # held back until now
            events += self._start_message("output_text")
            events.append(self.events("response.output_text.delta", **self._where(), delta=self.text, logprobs=[]))
        annotations = [{"type": "file_citation", "file_id": file_id, "filename": name, "index": len(self.text)} for file_id, name in self.citations]
        for number, annotation in enumerate(annotations):
            events.append(self.events("response.output_text.annotation.added", **self._where(), annotation_index=number, annotation=annotation))
        events.append(self.events("response.output_text.done", **self._where(), text=self.text, logprobs=[]))
        return events + self._done_message({"type": "output_text", "text": self.text, "annotations": annotations})

    def _start_message(self, part_type: str) -> list[Event]:
        self.message_index = len(self.output)
        self.message = {"type": "message", "id": new_id("msg"), "role": "assistant", "status": "in_progress", "content": []}
        self.output.append(self.message)
        empty = {"type": "refusal", "refusal": ""} if part_type == "refusal" else {"type": "output_text", "text": "", "annotations": []}
        return [
            self.events("response.output_item.added", output_index=self.message_index, item=dict(self.message)),
            self.events("response.content_part.added", **self._where(), part=empty),
        ]

    def _done_message(self, part: dict[str, Any]) -> list[Event]:
        assert self.message is not None
        self.message.update(status="completed", content=[part])
        return [
            self.events("response.content_part.done", **self._where(), part=part),
            self.events("response.output_item.done", output_index=self.message_index, item=self.message),
        ]

    def _where(self) -> dict[str, Any]:
        assert self.message is not None
        return {"item_id": self.message["id"], "output_index": self.message_index, "content_index": 0}
