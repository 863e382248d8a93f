"""Checks a batch's create parameters and each line of its input file.

A malformed line is that line's error (in the batch's error file), not a failed batch; only
an input that cannot be a batch at all (empty, too large, not the purpose "batch") fails it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from stackmesh_common.errors import InvalidArgument
from stackmesh_common.metadata import check_metadata
from stackmesh_inference.batches.store import Line

ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
COMPLETION_WINDOWS = ("24h",)
# OpenAI's metadata limits.


def check_create(endpoint: str, completion_window: str, metadata: dict[str, str]) -> None:
    if endpoint not in ENDPOINTS:
        raise InvalidArgument(f"`endpoint` must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}", param="endpoint")
    if completion_window not in COMPLETION_WINDOWS:
        raise InvalidArgument(f"`completion_window` must be \"24h\", got {completion_window!r}", param="completion_window")
    check_metadata(metadata)


def _error(code: str, message: str, line: int, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "line": line, "param": param}


async def parse_lines(
    data: bytes, endpoint: str, max_requests: int, model_exists: Callable[[str], Awaitable[bool]]
) -> tuple[list[Line], str | None]:
    """Every non-blank line of the input as a runnable request or its error, and the model
    of the first runnable one. Raises InvalidArgument when the file cannot be a batch."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("the input file is not UTF-8 text (JSONL)", param="input_file_id") from None
    raw = [(number, content) for number, content in enumerate(text.splitlines(), start=1) if content.strip()]
    if not raw:
        raise InvalidArgument("the input file has no requests", param="input_file_id")
    if len(raw) > max_requests:
        raise InvalidArgument(f"the input file has {len(raw)} requests; a batch takes at most {max_requests}", param="input_file_id")
    lines: list[Line] = []
    seen: set[str] = set()
    known: dict[str, bool] = {}
    first_model: str | None = None
    for number, content in raw:
        try:
            request = json.loads(content)
        except json.JSONDecodeError as exc:
            lines.append(Line(number, f"line-{number}", None, _error("invalid_json", f"line {number} is not valid JSON: {exc.msg}", number)))
            continue
        if not isinstance(request, dict):
            lines.append(Line(number, f"line-{number}", None, _error("invalid_request", f"line {number} is not a JSON object", number)))
            continue
        custom_id = request.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            lines.append(Line(number, f"line-{number}", None, _error("missing_custom_id", f"line {number} has no string `custom_id`", number, "custom_id")))
            continue
        if custom_id in seen:
            lines.append(Line(number, custom_id, None, _error("duplicate_custom_id", f"`custom_id` {custom_id!r} of line {number} is not unique in the batch", number, "custom_id")))
            continue
        seen.add(custom_id)
        problem = _check_request(request, endpoint, number)
        if problem is None:
            model = request["body"].get("model")
            if not isinstance(model, str) or not model:
                problem = _error("missing_model", f"line {number} has no `body.model`", number, "body.model")
            else:
                if model not in known:
                    known[model] = await model_exists(model)
                if not known[model]:
                    problem = _error("model_not_found", f"line {number}: the model `{model}` does not exist", number, "body.model")
                elif first_model is None:
                    first_model = model
        lines.append(Line(number, custom_id, request.get("body") if problem is None else None, problem))
    return lines, first_model


def _check_request(request: dict[str, Any], endpoint: str, number: int) -> dict[str, Any] | None:
    method = request.get("method")
    if method != "POST":
        return _error("invalid_method", f"line {number}: `method` must be \"POST\", got {method!r}", number, "method")
    url = request.get("url")
    if url != endpoint:
        return _error("mismatched_url", f"line {number}: `url` {url!r} is not the batch's endpoint {endpoint}", number, "url")
    body = request.get("body")
    if not isinstance(body, dict):
        return _error("invalid_body", f"line {number}: `body` must be a JSON object", number, "body")
    if body.get("stream"):
        return _error("stream_unsupported", f"line {number}: batches do not stream; remove `stream`", number, "body.stream")
    return None
