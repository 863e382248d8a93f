"""Conversions between the OpenAI JSON shapes providers speak."""

from __future__ import annotations

from typing import Any

def legacy_logprobs(logprobs: dict[str, Any], offset: int) -> tuple[dict[str, Any], int]:
    """Text-completion logprobs in OpenAI's legacy shape (tokens, token_logprobs, top_logprobs,
    text_offset) from the chat shape llama.cpp answers with; `offset` is where this piece's
    text starts in the whole completion. Returns the converted logprobs and the next offset."""
    if "content" not in logprobs:
        return logprobs, offset
    converted: dict[str, list[Any]] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for entry in logprobs["content"] or []:
        converted["tokens"].append(entry["token"])
        converted["token_logprobs"].append(entry["logprob"])
        converted["top_logprobs"].append({top["token"]: top["logprob"] for top in entry.get("top_logprobs", [])})
        converted["text_offset"].append(offset)
        offset += len(entry["token"])
    return converted, offset
