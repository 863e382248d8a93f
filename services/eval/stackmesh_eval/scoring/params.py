"""Scoring-function parameters (the proto's ScoringFnParams), their merge and their validation."""

from __future__ import annotations

import functools
import string
from typing import Any, Literal, Mapping

import pydantic
import re2

from stackmesh_common.errors import InvalidArgument
from stackmesh_eval.scoring.aggregation import AGGREGATIONS

FnType = Literal["basic", "regex_parser", "llm_as_judge"]

TEMPLATE_FIELDS = ("input_query", "expected_answer", "generated_answer")


class FnParams(pydantic.BaseModel):
    """What configures one scoring function; `type` picks which of the other fields apply."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    type: FnType
    judge_model: str | None = None
    prompt_template: str | None = None
    judge_score_regexes: list[str] = []
    parsing_regexes: list[str] = []
    aggregation_functions: list[str] = []
    # Our extension: the judge's answer is decoded under this regex (guided decoding), so
    # small judge models still answer in a shape judge_score_regexes can parse.
    judge_output_regex: str | None = None


def parse_params(fields: Mapping[str, Any], *, where: str = "params") -> FnParams:
    """Builds FnParams from loose fields (e.g. a converted proto), as InvalidArgument on bad input."""
    try:
        return FnParams.model_validate(dict(fields))
    except pydantic.ValidationError as e:
        first = e.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise InvalidArgument(f"{where}{loc}: {first['msg']}", param=f"{where}{loc}") from None


def merge(defaults: FnParams | None, override: FnParams | None, *, where: str = "params") -> FnParams:
    """The effective params: the function's defaults with the per-request override on top.

    An override field counts as set when it is not None and not an empty list: protos cannot
    tell an unset repeated field from an empty one, so an override cannot clear a default list.
    """
    if override is None:
        return defaults if defaults is not None else FnParams(type="basic")
    if defaults is None:
        return override
    if override.type != defaults.type:
        raise InvalidArgument(
            f"{where}.type: this function takes params of type `{defaults.type}`, not `{override.type}`",
            param=f"{where}.type",
        )
    given = {name: value for name, value in override if value is not None and value != []}
    return defaults.model_copy(update=given, deep=True)


def check_params(params: FnParams, *, where: str = "params") -> None:
    """Raises InvalidArgument for anything in the effective params that cannot be used."""
    _check_regexes(params.parsing_regexes, f"{where}.parsing_regexes")
    _check_regexes(params.judge_score_regexes, f"{where}.judge_score_regexes")
    if params.judge_output_regex is not None:
        param = f"{where}.judge_output_regex"
        if not params.judge_output_regex:
            raise InvalidArgument(f"{param}: must not be empty (it would force an empty answer)", param=param)
        compile_regex(params.judge_output_regex, param)
    if params.prompt_template is not None:
        _check_template(params.prompt_template, f"{where}.prompt_template")
    unknown = [(i, n) for i, n in enumerate(params.aggregation_functions) if n not in AGGREGATIONS]
    if unknown:
        names = ", ".join(f"`{n}`" for _, n in unknown)
        param = f"{where}.aggregation_functions[{unknown[0][0]}]"
        raise InvalidArgument(f"{param}: unknown aggregation {names}; known: {', '.join(AGGREGATIONS)}", param=param)
    if params.type == "regex_parser" and not params.parsing_regexes:
        param = f"{where}.parsing_regexes"
        raise InvalidArgument(f"{param}: type regex_parser needs at least one parsing regex", param=param)
    if params.type == "llm_as_judge":
        if not params.judge_model:
            param = f"{where}.judge_model"
            raise InvalidArgument(f"{param}: type llm_as_judge needs the model that judges", param=param)
        if not params.judge_score_regexes:
            param = f"{where}.judge_score_regexes"
            raise InvalidArgument(f"{param}: type llm_as_judge needs at least one score regex", param=param)


def compile_regex(pattern: str, param: str) -> re2._Regexp:
    """Compiles a user-supplied pattern with RE2 (linear time: no catastrophic backtracking)."""
    try:
        return _compile(pattern)
    except re2.error as e:
        reason = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise InvalidArgument(f"{param}: not a valid RE2 regex: {reason}", param=param) from None


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re2._Regexp:
    options = re2.Options()
    # A bad user pattern is answered as InvalidArgument; RE2 logging it to stderr is noise.
    options.log_errors = False
    return re2.compile(pattern, options=options)


def _check_regexes(patterns: list[str], where: str) -> None:
    for i, pattern in enumerate(patterns):
        param = f"{where}[{i}]"
        if compile_regex(pattern, param).groups < 1:
            raise InvalidArgument(f"{param}: needs a capturing group around the part to extract", param=param)


def _check_template(template: str, param: str) -> None:
    allowed = ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)
    try:
        fields = [(f, conv, spec) for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise InvalidArgument(f"{param}: {e} (write literal braces as {{{{ and }}}})", param=param) from None
    for field, conversion, spec in fields:
        # Only plain names: attribute/index access, positional fields and format specs are refused.
        if field not in TEMPLATE_FIELDS or conversion or spec:
            shown = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise InvalidArgument(f"{param}: unsupported placeholder {{{shown}}}; use only {allowed}", param=param)
