"""Row scorers: one score row per input row, in Llama Stack's column names and result shapes.

Call `check_rows` on a request's rows first; `score_row` then assumes its columns are there.
"""

from __future__ import annotations

import json
import math
import string
from typing import Awaitable, Callable, Literal

from rapidfuzz.distance import Levenshtein

from stackmesh_common.errors import InvalidArgument
from stackmesh_eval.scoring.builtins import JUDGE_PROMPT_TEMPLATE, ScoringFnDef
from stackmesh_eval.scoring.params import TEMPLATE_FIELDS, FnParams, compile_regex

# (judge model, prompt, output regex or None) -> the judge's answer text.
Judge = Callable[[str, str, str | None], Awaitable[str]]

Kind = Literal["equality", "subset_of", "docvqa", "multiple_choice", "regex_parser", "llm_as_judge"]

_BUILTIN_KINDS: dict[str, Kind] = {
    "basic::equality": "equality",
    "basic::subset_of": "subset_of",
    "basic::docvqa": "docvqa",
    "basic::regex_parser_multiple_choice_answer": "multiple_choice",
    "llm-as-judge::base": "llm_as_judge",
}

_ANSWER_COLUMNS = ("expected_answer", "generated_answer")

# ANLS counts a match below this similarity as no match at all (the DocVQA convention).
_ANLS_THRESHOLD = 0.5

_ERROR_ANSWER_CHARS = 200


def needs_judge(fn: ScoringFnDef, params: FnParams) -> bool:
    """Whether scoring with this function calls a judge model."""
    return _kind(fn, params) == "llm_as_judge"


def required_columns(fn: ScoringFnDef, params: FnParams) -> tuple[str, ...]:
    """The string columns every row must carry for this function.

    A judge needs only `generated_answer`: reference-free judging is legitimate, and a
    template column the row lacks renders as "".
    """
    return ("generated_answer",) if _kind(fn, params) == "llm_as_judge" else _ANSWER_COLUMNS


def check_rows(fn: ScoringFnDef, params: FnParams, rows: list[dict], *, where: str = "input_rows") -> None:
    """Raises InvalidArgument naming the first row and column that cannot be scored."""
    required = required_columns(fn, params)
    for i, row in enumerate(rows):
        for column in TEMPLATE_FIELDS:
            value = row.get(column)
            if value is None and column not in required:
                continue
            if value is None:
                problem = "is required" if column not in row else "must not be null"
            elif not isinstance(value, str):
                problem = f"must be a string, got {type(value).__name__}"
            else:
                continue
            raise InvalidArgument(f"row {i}, column `{column}`: {problem}", param=f"{where}[{i}].{column}")
        weight = row.get("weight")
        if weight is not None and (
            isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0
        ):
            raise InvalidArgument(
                f"row {i}, column `weight`: must be a finite number >= 0, got {weight!r}", param=f"{where}[{i}].weight"
            )


async def score_row(fn: ScoringFnDef, params: FnParams, row: dict, judge: Judge | None) -> dict:
    """The score row for one input row; a judge call that raises propagates to the caller."""
    kind = _kind(fn, params)
    if kind == "llm_as_judge":
        if judge is None:
            raise ValueError(f"{fn.identifier} needs a judge to score with")
        result = await _judge(params, row, judge)
    else:
        expected, generated = row["expected_answer"], row["generated_answer"]
        if kind == "equality":
            result = {"score": 1.0 if generated.strip() == expected.strip() else 0.0}
        elif kind == "subset_of":
            result = {"score": 1.0 if expected.strip() in generated else 0.0}
        elif kind == "docvqa":
            result = {"score": _anls(expected, generated)}
        else:
            result = _parse_answer(params, expected, generated, upper=kind == "multiple_choice")
    if row.get("weight") is not None:
        # Carried so that weighted_average can read it from the score rows; a null weight,
        # like a missing one, weighs 1.
        result["weight"] = row["weight"]
    return result


def _kind(fn: ScoringFnDef, params: FnParams) -> Kind:
    builtin = _BUILTIN_KINDS.get(fn.identifier)
    if builtin is not None:
        return builtin
    if params.type == "basic":
        raise InvalidArgument(
            f"params.type: `basic` applies only to the built-in functions; "
            f"{fn.identifier} needs regex_parser or llm_as_judge",
            param="params.type",
        )
    return params.type


def _parse_answer(params: FnParams, expected: str, generated: str, *, upper: bool) -> dict:
    # Finding no answer is a wrong answer (0.0), not an error: the model failed the format.
    parsed = None
    for i, pattern in enumerate(params.parsing_regexes):
        match = compile_regex(pattern, f"params.parsing_regexes[{i}]").search(generated)
        if match and match.group(1) is not None:
            parsed = match.group(1).strip()
            break
    if parsed is None:
        return {"score": 0.0, "parsed_answer": None}
    want = expected.strip()
    if upper:
        parsed, want = parsed.upper(), want.upper()
    return {"score": 1.0 if parsed == want else 0.0, "parsed_answer": parsed}


async def _judge(params: FnParams, row: dict, judge: Judge) -> dict:
    if not params.judge_model:
        raise InvalidArgument("params.judge_model: the judge model is required", param="params.judge_model")
    template = params.prompt_template if params.prompt_template is not None else JUDGE_PROMPT_TEMPLATE
    prompt = template.format(**{column: row.get(column) or "" for column in TEMPLATE_FIELDS})
    try:
        answer = await judge(params.judge_model, prompt, params.judge_output_regex)
    except InvalidArgument as e:
        if e.reason == "context_length_exceeded":
            # This row's text, not the request, is too long for the judge: the row is not scored.
            return {"score": None, "error": f"the judge prompt does not fit the context of `{params.judge_model}`: {e.message}"}
        if e.param == "guided_regex":
            # Valid RE2 that the inference service cannot decode under: name the field the caller wrote.
            param = "params.judge_output_regex"
            raise InvalidArgument(f"{param}: the judge model cannot decode under it: {e.message}", param=param) from None
        raise
    for i, pattern in enumerate(params.judge_score_regexes):
        match = compile_regex(pattern, f"params.judge_score_regexes[{i}]").search(answer)
        if match and match.group(1) is not None:
            return {"score": _as_number(match.group(1).strip()), "judge_feedback": answer}
    shown = answer if len(answer) <= _ERROR_ANSWER_CHARS else answer[:_ERROR_ANSWER_CHARS] + "…"
    return {
        "score": None,
        "error": f"the judge's answer matched none of judge_score_regexes: {shown!r}",
        "judge_feedback": answer,
    }


def _as_number(text: str) -> int | float | str:
    """The captured score as a number when it is one, else the text (a categorical grade)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    # "nan" and "inf" parse as floats but are grades, not scores.
    return value if math.isfinite(value) else text


def _anls(expected: str, generated: str) -> float:
    candidate = _normalize(generated)
    best = 0.0
    for answer in _acceptable_answers(expected):
        target = _normalize(answer)
        longest = max(len(target), len(candidate))
        if longest == 0:
            return 1.0
        # The distance is at least the length difference: skip what cannot reach the threshold.
        if 1 - abs(len(target) - len(candidate)) / longest < _ANLS_THRESHOLD:
            continue
        # rapidfuzz's C edit distance: a pure-Python one held the event loop for seconds on long answers.
        best = max(best, 1 - Levenshtein.distance(target, candidate) / longest)
    return best if best >= _ANLS_THRESHOLD else 0.0


def _acceptable_answers(expected: str) -> list[str]:
    """DocVQA rows list several acceptable answers as a JSON array; anything else is one answer."""
    if expected.lstrip().startswith("["):
        try:
            answers = json.loads(expected)
        except json.JSONDecodeError:
            return [expected]
        if isinstance(answers, list) and answers and all(isinstance(a, str) for a in answers):
            return answers
    return [expected]


_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = frozenset({"a", "an", "the"})


def _normalize(text: str) -> str:
    words = text.lower().translate(_PUNCTUATION).split()
    return " ".join(w for w in words if w not in _ARTICLES)
