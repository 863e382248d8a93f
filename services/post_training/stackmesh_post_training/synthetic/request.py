"""Checking a generation request and turning it into the job's spec: every bound a 400 naming
its field, before a job is accepted (the worker builds the same spec again)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from stackmesh.synthetic_data.v1 import synthetic_data_service_pb2 as pb
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.protojson import plain, whole_numbers

ROLES = ("system", "user", "assistant")
FILTERS = ("none", "random", "top_k", "top_p", "top_k_top_p")
MAX_CANDIDATES = 16
MAX_TOKENS = 4096
DEFAULT_SCORING_FUNCTION = "llm-as-judge::base"
# The eval service's dataset ids.
DATASET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,255}")

Dialog = list[dict[str, str]]


@dataclass(frozen=True)
class FilterSpec:
    function: str
    top_k: int | None
    top_p: float | None
    threshold: float | None


@dataclass(frozen=True)
class GenerationSpec:
    dialogs: list[Dialog]
    model: str
    num_candidates: int
    max_tokens: int
    temperature: float
    scoring_function: str
    # ScoringFnParams JSON; None keeps the function's defaults.
    scoring_params: dict[str, Any] | None
    filter: FilterSpec


def _text(content: Any) -> str | None:
    """A message's text: a string or text parts (Llama Stack's interleaved content); None otherwise."""
    if isinstance(content, str):
        return content
    parts = [content] if isinstance(content, dict) else content
    if isinstance(parts, list) and all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in parts):
        return "".join(p["text"] for p in parts)
    return None


def _dialog(messages: list[Any], param: str) -> Dialog:
    if not messages:
        raise InvalidArgument(f"`{param}` must hold at least one message", param=param)
    dialog = []
    for number, message in enumerate(messages):
        where = f"{param}[{number}]"
        if not isinstance(message, dict):
            raise InvalidArgument(f"`{where}` must be a message object", param=where)
        role = message.get("role")
        if role not in ROLES:
            raise InvalidArgument(f"`{where}.role` must be one of {', '.join(ROLES)}, got {role!r}", param=f"{where}.role")
        text = _text(message.get("content"))
        if text is None:
            raise InvalidArgument(f"`{where}.content` must be text (a string or text parts)", param=f"{where}.content")
        dialog.append({"role": role, "content": text})
    if dialog[-1]["role"] != "user":
        raise InvalidArgument(f"`{param}` ends with a {dialog[-1]['role']} message; a seed dialog ends with the user message to answer", param=param)
    return dialog


def _dialogs(values: list[Any], max_dialogs: int) -> list[Dialog]:
    """Llama Stack's flat message list is one dialog; a list of message lists is several."""
    if not values:
        raise InvalidArgument("`dialogs` must hold at least one dialog", param="dialogs")
    if all(isinstance(v, list) for v in values):
        if len(values) > max_dialogs:
            raise InvalidArgument(f"`dialogs` holds {len(values)} dialogs; at most {max_dialogs}", param="dialogs")
        return [_dialog(v, f"dialogs[{i}]") for i, v in enumerate(values)]
    if any(isinstance(v, list) for v in values):
        raise InvalidArgument("`dialogs` must be a list of messages (one dialog) or a list of message lists, not a mix", param="dialogs")
    return [_dialog(values, "dialogs")]


def _int(request: pb.GenerateRequest, field: str, default: int, low: int, high: int) -> int:
    value = getattr(request, field) if request.HasField(field) else default
    if not low <= value <= high:
        raise InvalidArgument(f"`{field}` must be {low} to {high}, got {value}", param=field)
    return value


def _filter(request: pb.GenerateRequest) -> FilterSpec:
    function = request.filtering_function
    if function == "sigmoid":
        raise InvalidArgument(
            "`filtering_function` 'sigmoid' has no defined meaning; use 'none' with `threshold` to keep answers above a score",
            param="filtering_function",
        )
    if function not in FILTERS:
        raise InvalidArgument(f"`filtering_function` must be one of {', '.join(FILTERS)}, got {function!r}", param="filtering_function")
    top_k = top_p = threshold = None
    if "top_k" in function:
        top_k = _int(request, "top_k", 1, 1, MAX_CANDIDATES)
    elif request.HasField("top_k"):
        raise InvalidArgument(f"`top_k` applies to the top_k and top_k_top_p filters, not {function!r}", param="top_k")
    if "top_p" in function:
        top_p = request.top_p if request.HasField("top_p") else 0.9
        if not 0 < top_p <= 1:
            raise InvalidArgument(f"`top_p` must be above 0 and at most 1, got {top_p:g}", param="top_p")
    elif request.HasField("top_p"):
        raise InvalidArgument(f"`top_p` applies to the top_p and top_k_top_p filters, not {function!r}", param="top_p")
    if request.HasField("threshold"):
        threshold = request.threshold
        if not math.isfinite(threshold):
            raise InvalidArgument("`threshold` must be a finite number", param="threshold")
    return FilterSpec(function, top_k, top_p, threshold)


def generation_spec(request: pb.GenerateRequest, max_dialogs: int) -> GenerationSpec:
    dialogs = _dialogs([whole_numbers(plain(v)) for v in request.dialogs], max_dialogs)
    model = request.model if request.HasField("model") else ""
    if not model:
        raise InvalidArgument("`model` is required: the id of a registered llm that samples the answers", param="model")
    temperature = request.temperature if request.HasField("temperature") else 0.9
    if not 0 <= temperature <= 2:
        raise InvalidArgument(f"`temperature` must be 0 to 2, got {temperature:g}", param="temperature")
    scoring_function = request.scoring_function if request.HasField("scoring_function") else DEFAULT_SCORING_FUNCTION
    if not scoring_function:
        raise InvalidArgument("`scoring_function` must not be empty", param="scoring_function")
    if request.HasField("dataset_id") and not DATASET_ID.fullmatch(request.dataset_id):
        raise InvalidArgument(
            f"`dataset_id` {request.dataset_id!r} is not a valid dataset id: use 1 to 256 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit",
            param="dataset_id",
        )
    return GenerationSpec(
        dialogs=dialogs,
        model=model,
        num_candidates=_int(request, "num_candidates", 4, 1, MAX_CANDIDATES),
        max_tokens=_int(request, "max_tokens", 128, 1, MAX_TOKENS),
        temperature=temperature,
        scoring_function=scoring_function,
        scoring_params=whole_numbers(plain(request.scoring_params)) if request.HasField("scoring_params") else None,
        filter=_filter(request),
    )
