"""A Llama Stack agent turn's steps from the Responses loop's `response.*` events: the stream
payloads (turn_start, step_start/progress/complete, turn_complete/turn_awaiting_input) and
the stored turn. Pure: the servicer runs the loop and feeds the events in."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from stackmesh_agents.agent_requests import KNOWLEDGE_SEARCH, Json, new_id, now
from stackmesh_agents.items import mcp_call_result

# Output items of tools the loop runs itself: each becomes a tool_execution step.
SERVER_TOOL_ITEMS = ("file_search_call", "mcp_call")
TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def _payload(event_type: str, **fields: Any) -> Json:
    return {"event_type": event_type, **fields}


def _message(content: str, stop_reason: str, tool_calls: list[Json]) -> Json:
    return {"role": "assistant", "content": content, "stop_reason": stop_reason, "tool_calls": tool_calls}


@dataclass
class _ServerCall:
    """A tool call the loop runs; the inference step that asked for it closes when it starts."""

    call: Json
    step: Json | None = None


class TurnSteps:
    """A turn's steps as the loop's events arrive; each call returns the stream payloads to send.

    Inference calls leave no event of their own: an inference step opens with its first text
    or function call, and closes when a server-side tool starts, a guardrail refuses, or the
    response ends. A server-side tool call with no inference step open (the model only asked
    for the tool) gets an inference step of its own."""

    def __init__(self, turn: Json) -> None:
        self.turn = turn
        self._inference: Json | None = None
        self._calls: dict[str, Json] = {}  # function_call item id → its ToolCall
        self._server: dict[str, _ServerCall] = {}  # server tool item id → its call
        self._shield: Json | None = None

    @classmethod
    def new(cls, session_id: str, input_messages: list[Json]) -> TurnSteps:
        return cls(
            {"turn_id": new_id(), "session_id": session_id, "input_messages": input_messages, "steps": [], "output_attachments": [], "started_at": now()}
        )

    @classmethod
    def resumed(cls, turn: Json) -> TurnSteps:
        """A turn awaiting input, to be continued: its steps so far, no output yet."""
        return cls({key: value for key, value in copy.deepcopy(turn).items() if key not in ("output_message", "completed_at")})

    def start(self) -> list[Json]:
        return [_payload("turn_start", turn_id=self.turn["turn_id"])]

    def client_results(self, calls: list[Json], responses: list[Json]) -> list[Json]:
        """The tool_execution step of the client's tool responses, which a resumed turn starts with."""
        names = {call["call_id"]: call["tool_name"] for call in calls}
        step = self._open_step("tool_execution")
        step["tool_calls"] = calls
        step["tool_responses"] = [{**response, "tool_name": response.get("tool_name") or names[response["call_id"]]} for response in responses]
        return [self._step_start(step), self._step_complete(step)]

    def feed(self, event: Json) -> list[Json]:
        kind = event["type"]
        if kind == "response.content_part.added":
            return self._refusal_start() if event["part"]["type"] == "refusal" else self._inference_start()
        if kind == "response.output_text.delta":
            return [*self._inference_start(), self._progress({"type": "text", "text": event["delta"]})]
        if kind == "response.refusal.done":
            return self._refusal_done(event["refusal"])
        if kind == "response.output_item.added":
            return self._item_added(event["item"])
        if kind == "response.function_call_arguments.delta" and event["item_id"] in self._calls:
            self._calls[event["item_id"]]["arguments"] += event["delta"]
            return [self._progress({"type": "tool_call", "tool_call": event["delta"], "parse_status": "in_progress"})]
        if kind in ("response.mcp_call_arguments.done", "response.mcp_call.arguments.done") and event["item_id"] in self._server:
            self._server[event["item_id"]].call["arguments"] = event["arguments"]
            return []
        if kind.endswith(".in_progress") and event.get("item_id") in self._server:
            return self._tool_start(event["item_id"])
        if kind == "response.output_item.done":
            return self._item_done(event["item"])
        return []

    def end(self, response: Json) -> tuple[list[Json], bool]:
        """The payloads that close the turn once its response ended, and whether it awaits the
        client's tool responses. `self.turn` is then the turn to store."""
        awaited = {item["call_id"] for item in response["output"] if item["type"] == "function_call"}
        stop_reason = "end_of_message" if awaited else "out_of_tokens" if response["status"] == "incomplete" else "end_of_turn"
        payloads = self._inference_end(stop_reason)
        last = self.turn["steps"][-1] if self.turn["steps"] else None
        if last is not None and last["step_type"] == "shield_call" and last.get("violation"):
            output = _message(last["violation"]["user_message"], "end_of_turn", [])
        elif (inference := self._last_inference()) is not None:
            calls = [call for call in inference["model_response"]["tool_calls"] if call["call_id"] in awaited]
            output = _message(inference["model_response"]["content"], stop_reason, calls)
        else:
            output = _message("", stop_reason, [])
        self.turn["output_message"] = output
        if not awaited:
            self.turn["completed_at"] = now()
        payloads.append(_payload("turn_awaiting_input" if awaited else "turn_complete", turn=copy.deepcopy(self.turn)))
        return payloads, bool(awaited)

    def _item_added(self, item: Json) -> list[Json]:
        if item["type"] == "function_call":
            payloads = self._inference_start()
            call = {"call_id": item["call_id"], "tool_name": item["name"], "arguments": item.get("arguments") or ""}
            self._calls[item["id"]] = call
            assert self._inference is not None
            self._inference["model_response"]["tool_calls"].append(call)
            return [*payloads, self._progress({"type": "tool_call", "tool_call": "", "parse_status": "started"})]
        if item["type"] in SERVER_TOOL_ITEMS:
            self._server[item["id"]] = _ServerCall({"call_id": item["id"], "tool_name": _tool_name(item), "arguments": _arguments(item)})
        return []

    def _item_done(self, item: Json) -> list[Json]:
        if item["type"] == "message" and item["content"] and item["content"][0]["type"] == "output_text" and self._inference is not None:
            self._inference["model_response"]["content"] = item["content"][0]["text"]
        elif item["type"] == "function_call" and item["id"] in self._calls:
            call = self._calls[item["id"]]
            call["arguments"] = item["arguments"]
            return [self._progress({"type": "tool_call", "tool_call": dict(call), "parse_status": "succeeded"})]
        elif item["type"] in SERVER_TOOL_ITEMS and item["id"] in self._server:
            payloads = self._tool_start(item["id"])
            server = self._server.pop(item["id"])
            assert server.step is not None
            server.call["arguments"] = _arguments(item) or server.call["arguments"]
            server.step.update(tool_calls=[server.call], tool_responses=[_tool_response(item, server.call)])
            return [*payloads, self._step_complete(server.step)]
        return []

    def _tool_start(self, item_id: str) -> list[Json]:
        """Closes the inference step that asked for the tool (its own, when none is open), then
        opens the tool_execution step; idempotent."""
        server = self._server[item_id]
        if server.step is not None:
            return []
        payloads = self._inference_start()
        assert self._inference is not None
        self._inference["model_response"]["tool_calls"].append(server.call)
        payloads += self._inference_end("end_of_message")
        server.step = self._open_step("tool_execution")
        return [*payloads, self._step_start(server.step)]

    def _inference_start(self) -> list[Json]:
        if self._inference is not None:
            return []
        self._inference = self._open_step("inference")
        self._inference["model_response"] = _message("", "end_of_turn", [])
        return [self._step_start(self._inference)]

    def _inference_end(self, stop_reason: str) -> list[Json]:
        if self._inference is None:
            return []
        step, self._inference, self._calls = self._inference, None, {}
        step["model_response"]["stop_reason"] = "end_of_message" if step["model_response"]["tool_calls"] else stop_reason
        return [self._step_complete(step)]

    def _refusal_start(self) -> list[Json]:
        payloads = self._inference_end("end_of_turn")
        self._shield = self._open_step("shield_call")
        return [*payloads, self._step_start(self._shield)]

    def _refusal_done(self, refusal: str) -> list[Json]:
        payloads = [] if self._shield is not None else self._refusal_start()
        step, self._shield = self._shield, None
        assert step is not None
        # The loop blocks only on `error`-level violations; it does not say which shield.
        step["violation"] = {"violation_level": "error", "user_message": refusal, "metadata": {}}
        return [*payloads, self._step_complete(step)]

    def _last_inference(self) -> Json | None:
        return next((step for step in reversed(self.turn["steps"]) if step["step_type"] == "inference"), None)

    def _open_step(self, step_type: str) -> Json:
        step = {"turn_id": self.turn["turn_id"], "step_id": new_id(), "step_type": step_type, "started_at": now()}
        self.turn["steps"].append(step)
        return step

    def _step_start(self, step: Json) -> Json:
        return _payload("step_start", step_type=step["step_type"], step_id=step["step_id"])

    def _step_complete(self, step: Json) -> Json:
        step["completed_at"] = now()
        return _payload("step_complete", step_type=step["step_type"], step_id=step["step_id"], step_details=copy.deepcopy(step))

    def _progress(self, delta: Json) -> Json:
        assert self._inference is not None
        return _payload("step_progress", step_type="inference", step_id=self._inference["step_id"], delta=delta)


def _tool_name(item: Json) -> str:
    return KNOWLEDGE_SEARCH if item["type"] == "file_search_call" else item["name"]


def _arguments(item: Json) -> str:
    if item["type"] == "file_search_call":
        return json.dumps({"query": (item.get("queries") or [""])[0]})
    return item.get("arguments") or ""


def _tool_response(item: Json, call: Json) -> Json:
    """A search as knowledge_search answers (its passages, their files in the metadata); an MCP call as the model read it."""
    response: Json = {"call_id": call["call_id"], "tool_name": call["tool_name"]}
    if item["type"] == "mcp_call":
        response["content"] = mcp_call_result(item)
        if item.get("error"):
            response["metadata"] = {"error": item["error"]}
        return response
    results = item.get("results") or []
    response["content"] = [
        {"type": "text", "text": f"Result {n}\nContent: {r['text']}\nMetadata: {{'document_id': {r['file_id']!r}, 'filename': {r['filename']!r}}}\n"}
        for n, r in enumerate(results, start=1)
    ]
    response["metadata"] = {
        "document_ids": [r["file_id"] for r in results],
        "filenames": [r["filename"] for r in results],
        "chunks": [r["text"] for r in results],
        "scores": [r["score"] for r in results],
    }
    return response
