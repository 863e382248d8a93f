"""Waiting chunks coalesce only where nothing but text (and its logprobs) would be lost."""

from __future__ import annotations

from stackmesh_inference.chunks import merge


def chat(delta: dict, finish: str | None = None, **choice) -> dict:
    return {"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": finish, **choice}]}


def test_text_deltas_join_and_the_later_finish_reason_stays():
    merged = merge(chat({"content": "Hel"}), chat({"content": "lo"}, "stop"))
    assert merged["choices"][0]["delta"] == {"content": "Hello"}
    assert merged["choices"][0]["finish_reason"] == "stop"


def test_logprobs_join_with_their_tokens():
    first = chat({"content": "a"}, logprobs={"content": [{"token": "a"}]})
    second = chat({"content": "b"}, logprobs={"content": [{"token": "b"}]})
    assert merge(first, second)["choices"][0]["logprobs"] == {"content": [{"token": "a"}, {"token": "b"}]}
    assert merge(first, chat({"content": "b"})) is None


def test_text_completion_pieces_join():
    first = {"choices": [{"index": 0, "text": "Once", "finish_reason": None}]}
    second = {"choices": [{"index": 0, "text": " upon", "finish_reason": None}]}
    assert merge(first, second)["choices"][0]["text"] == "Once upon"


def test_what_must_stay_apart():
    text = chat({"content": "x"})
    assert merge(chat({"role": "assistant", "content": ""}), text) is None  # the role chunk
    assert merge(chat({"content": "x"}, "stop"), text) is None  # after the end
    assert merge(text, chat({"tool_calls": [{"index": 0}]})) is None
    assert merge(text, {"id": "c", "choices": [], "usage": {"completion_tokens": 1}}) is None
    other = {"id": "c", "choices": [{"index": 1, "delta": {"content": "y"}, "finish_reason": None}]}
    assert merge(text, other) is None
