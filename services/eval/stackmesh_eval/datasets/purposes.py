"""Dataset purposes (Llama Stack's DatasetPurpose) and the columns each requires of a row."""

from __future__ import annotations

import json
from typing import Any

from stackmesh_common.errors import InvalidArgument
from stackmesh_eval.datasets.formats import json_kind

# Llama Stack's three, and ours for preference optimization (DPO): a prompt, the preferred
# answer and the rejected one.
PURPOSES = ("eval/question-answer", "eval/messages-answer", "post-training/messages", "post-training/preference")

_COLUMNS = {
    "eval/question-answer": ("question", "answer"),
    "eval/messages-answer": ("messages", "answer"),
    "post-training/messages": ("messages",),
    "post-training/preference": ("prompt", "chosen", "rejected"),
}

ROLES = ("system", "user", "assistant", "tool")
# Parts checked here; image parts pass through as they are for whoever renders them.
_PART_TYPES = ("text", "image_url", "image")


def check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise InvalidArgument(f"unknown purpose {purpose!r}; purposes are {', '.join(PURPOSES)}", param="purpose")


class _Cell:
    """Where a bad value sits, for the error's message and param."""

    def __init__(self, where: str, index: int, column: str) -> None:
        self.param = f"{where}[{index}].{column}"
        self.prefix = f"row {index}, column `{column}`"

    def error(self, detail: str) -> InvalidArgument:
        return InvalidArgument(f"{self.prefix}: {detail}", param=self.param)


def normalize_row(purpose: str, index: int, row: dict[str, Any], *, where: str) -> dict[str, Any]:
    """The row checked against `purpose`, with a `messages` JSON string parsed (as CSV cells hold it).

    `index` is the 0-based row number and `where` names the rows' origin ("source.rows",
    "rows", "source.uri"); both go into the error's param. Other columns are kept as they are.
    """
    check_purpose(purpose)
    if not isinstance(row, dict):
        raise InvalidArgument(f"row {index} is not a JSON object (got {json_kind(row)})", param=f"{where}[{index}]")
    out = dict(row)
    if purpose == "eval/question-answer":
        question = _string(row, "question", _Cell(where, index, "question"), purpose)
        if not question.strip():
            raise _Cell(where, index, "question").error("must be a non-empty string, got an empty string")
        _string(row, "answer", _Cell(where, index, "answer"), purpose)
    elif purpose == "post-training/preference":
        cell = _Cell(where, index, "prompt")
        prompt = _required(row, "prompt", cell, purpose)
        # A prompt is a user's text or a conversation.
        if not isinstance(prompt, str):
            out["prompt"] = _messages(prompt, cell)
        elif not prompt.strip():
            raise cell.error("must be a non-empty string or a list of messages, got an empty string")
        for column in ("chosen", "rejected"):
            if not _string(row, column, _Cell(where, index, column), purpose).strip():
                raise _Cell(where, index, column).error("must be a non-empty string, got an empty string")
    else:
        cell = _Cell(where, index, "messages")
        out["messages"] = messages = _messages(_required(row, "messages", cell, purpose), cell)
        if purpose == "eval/messages-answer":
            _string(row, "answer", _Cell(where, index, "answer"), purpose)
        elif not any(message["role"] == "assistant" for message in messages):
            raise cell.error("must include at least one assistant message (the turn to train on)")
    return out


def _required(row: dict[str, Any], column: str, cell: _Cell, purpose: str) -> Any:
    if column not in row:
        raise cell.error(f"the column is missing; {purpose} rows need {' and '.join(f'`{name}`' for name in _COLUMNS[purpose])}")
    return row[column]


def _string(row: dict[str, Any], column: str, cell: _Cell, purpose: str) -> str:
    value = _required(row, column, cell, purpose)
    if not isinstance(value, str):
        raise cell.error(f"must be a string, got {json_kind(value)}")
    return value


def _messages(value: Any, cell: _Cell) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise cell.error(
                f"is not valid JSON ({exc.msg} at character {exc.pos}); expected a JSON array of messages"
            ) from None
    if not isinstance(value, list):
        raise cell.error(f"must be a list of messages, got {json_kind(value)}")
    if not value:
        raise cell.error("must hold at least one message, got an empty list")
    for number, message in enumerate(value):
        _check_message(number, message, cell)
    return value


def _check_message(number: int, message: Any, cell: _Cell) -> None:
    if not isinstance(message, dict):
        raise cell.error(f"message {number} must be an object with `role` and `content`, got {json_kind(message)}")
    role = message.get("role")
    if role not in ROLES:
        found = f"has role {role!r}" if "role" in message else "has no `role`"
        raise cell.error(f"message {number} {found}; roles are {', '.join(ROLES)}")
    content = message.get("content")
    # OpenAI lets an assistant message that only calls tools leave its content out.
    if content is None and role == "assistant" and message.get("tool_calls"):
        return
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        found = json_kind(content) if "content" in message else "nothing"
        raise cell.error(f"message {number}: `content` must be a string or a list of content parts, got {found}")
    for part_number, part in enumerate(content):
        where = f"message {number}, content part {part_number}"
        if not isinstance(part, dict):
            raise cell.error(f"{where} must be an object with `type`, got {json_kind(part)}")
        if part.get("type") not in _PART_TYPES:
            raise cell.error(f"{where} has type {part.get('type')!r}; types are {', '.join(_PART_TYPES)}")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            found = json_kind(part["text"]) if "text" in part else "nothing"
            raise cell.error(f"{where}: a text part's `text` must be a string, got {found}")
