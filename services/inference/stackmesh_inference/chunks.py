"""Coalescing of streamed chunks that are already waiting.

Under load a stream's consumer falls behind the model; the chunks queued meanwhile go on as
one, so a burst costs one trip through the service, gRPC, Envoy and the client instead of
one per token. Nothing waits for more to come: a consumer that keeps up sees every chunk.
"""

from __future__ import annotations

from typing import Any


def _text_key(choice: dict[str, Any]) -> str | None:
    """Where a choice's new text is, if that is all the choice carries."""
    if "delta" in choice:
        return "delta" if set(choice["delta"]) <= {"content"} else None
    return "text"


def _logprobs(first: dict[str, Any], second: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """(mergeable, merged) log probabilities: both absent, or both token lists."""
    a, b = first.get("logprobs"), second.get("logprobs")
    if a is None and b is None:
        return True, None
    if isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b) == {"content"}:
        return True, {"content": (a["content"] or []) + (b["content"] or [])}
    return False, None


def merge(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any] | None:
    """first and second as one chunk, or None when they must stay apart: other choices, a
    finished first, tool calls, roles, usage, or log probabilities of another shape."""
    if first.get("usage") or second.get("usage"):
        return None
    a, b = first.get("choices") or [], second.get("choices") or []
    if len(a) != 1 or len(b) != 1 or a[0].get("index") != b[0].get("index") or a[0].get("finish_reason"):
        return None
    key = _text_key(a[0])
    if key is None or _text_key(b[0]) != key:
        return None
    mergeable, logprobs = _logprobs(a[0], b[0])
    if not mergeable:
        return None
    choice = dict(b[0])
    if key == "delta":
        choice["delta"] = {"content": (a[0]["delta"].get("content") or "") + (b[0]["delta"].get("content") or "")}
    else:
        choice["text"] = (a[0].get("text") or "") + (b[0].get("text") or "")
    if logprobs is not None:
        choice["logprobs"] = logprobs
    return {**first, **second, "choices": [choice]}
