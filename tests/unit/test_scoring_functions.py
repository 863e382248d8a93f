"""Scoring functions: built-ins, user regex and judge functions, aggregations, params validation and merge."""

from __future__ import annotations

import json

import pytest

from stackmesh_common.errors import InvalidArgument
from stackmesh_eval.scoring import (
    BUILTINS,
    FnParams,
    ScoringFnDef,
    aggregate,
    check_params,
    check_rows,
    merge,
    needs_judge,
    parse_params,
    required_columns,
    score_row,
)
from stackmesh_eval.scoring.builtins import JUDGE_OUTPUT_REGEX


def builtin(identifier: str) -> tuple[ScoringFnDef, FnParams]:
    fn = BUILTINS[identifier]
    assert fn.params is not None
    return fn, fn.params


def row(expected: str, generated: str, **extra: object) -> dict:
    return {"input_query": "q", "expected_answer": expected, "generated_answer": generated, **extra}


async def score_all(identifier: str, rows: list[dict], params: FnParams | None = None) -> list[dict]:
    fn = BUILTINS[identifier]
    effective = merge(fn.params, params)
    check_rows(fn, effective, rows)
    return [await score_row(fn, effective, r, None) for r in rows]


def judge_fn(**params: object) -> tuple[ScoringFnDef, FnParams]:
    fn = BUILTINS["llm-as-judge::base"]
    effective = merge(fn.params, FnParams(type="llm_as_judge", judge_model="judge-1", **params))
    check_params(effective)
    return fn, effective


def raises_invalid(param: str):
    """Expects InvalidArgument naming exactly this param."""
    return pytest.raises(InvalidArgument, check=lambda e: e.param == param)


# --- built-ins -------------------------------------------------------------------------------


async def test_equality_over_five_rows_gives_accuracy_point_six():
    """Exact match after stripping surrounding whitespace; 3 of 5 right."""
    rows = [row("Paris", "Paris"), row("4", " 4\n"), row("blue", "Blue"), row("yes", "yes"), row("a", "b")]
    scores = await score_all("basic::equality", rows)
    assert [s["score"] for s in scores] == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert aggregate(scores, ["accuracy"]) == {"accuracy": 0.6, "num_correct": 3.0, "num_total": 5}


async def test_subset_of_looks_for_expected_inside_generated():
    """The expected answer only has to appear somewhere in the generated one."""
    rows = [row("Paris", "It is Paris."), row("Paris", "paris"), row("42\n", "the answer is 42")]
    scores = await score_all("basic::subset_of", rows)
    assert [s["score"] for s in scores] == [1.0, 0.0, 1.0]
    assert aggregate(scores, BUILTINS["basic::subset_of"].params.aggregation_functions)["accuracy"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "generated",
    [
        "Answer: B",
        "**Answer:** (B)",
        "I think the answer is (B) because...",
        "The answer is B.",
        "Let me think.\nB\n",
        "Reasoning first.\n(B)",
        "answer: b is wrong? no. Answer: B",
    ],
)
async def test_multiple_choice_reads_common_answer_forms(generated):
    """Every common way of stating the letter is parsed."""
    [scored] = await score_all("basic::regex_parser_multiple_choice_answer", [row("B", generated)])
    assert scored == {"score": 1.0, "parsed_answer": "B"}


async def test_multiple_choice_compares_upper_cased_expected():
    """A lower-case expected letter still matches."""
    [scored] = await score_all("basic::regex_parser_multiple_choice_answer", [row(" c ", "The answer is C.")])
    assert scored == {"score": 1.0, "parsed_answer": "C"}


async def test_multiple_choice_wrong_letter_scores_zero():
    """A parsed but wrong letter is 0.0 with the letter kept."""
    [scored] = await score_all("basic::regex_parser_multiple_choice_answer", [row("A", "Answer: D")])
    assert scored == {"score": 0.0, "parsed_answer": "D"}


@pytest.mark.parametrize("generated", ["I am not sure.", "the answer is a dog", "The answer is Definitely unclear"])
async def test_multiple_choice_without_a_letter_is_wrong_not_an_error(generated):
    """No parsable letter scores 0.0 with parsed_answer None and no error key."""
    [scored] = await score_all("basic::regex_parser_multiple_choice_answer", [row("A", generated)])
    assert scored == {"score": 0.0, "parsed_answer": None}


async def test_multiple_choice_takes_the_first_regex_that_matches():
    """Regex order wins over position in the text: "Answer: C" beats an earlier bare line."""
    [scored] = await score_all("basic::regex_parser_multiple_choice_answer", [row("C", "A\nso... Answer: C")])
    assert scored["parsed_answer"] == "C"


@pytest.mark.parametrize(
    ("expected", "generated", "score"),
    [
        ("The Eiffel Tower", "eiffel tower!", 1.0),
        ('["1,000", "one thousand"]', "1000", 1.0),
        ('["Paris", "Paris, France"]', "paris france", 1.0),
        ("invoice", "invoices", 1 - 1 / 8),
        ("12/05/2020", "12/05/2021", 1 - 1 / 8),
        ("Smith", "Smyth", 0.8),
        ("cat", "dog", 0.0),
        ("abcd", "ab", 0.5),
        ("abcde", "ab", 0.0),
    ],
)
async def test_docvqa_scores_anls(expected, generated, score):
    """Normalized similarity to the closest acceptable answer, 0.0 below 0.5."""
    [scored] = await score_all("basic::docvqa", [row(expected, generated)])
    assert scored["score"] == pytest.approx(score)


async def test_docvqa_treats_a_non_list_json_as_a_plain_answer():
    """A bracketed expected answer that is not a JSON list of strings is compared as text."""
    [scored] = await score_all("basic::docvqa", [row("[see page 2]", "see page 2")])
    assert scored["score"] == 1.0


async def test_user_regex_parser_compares_without_upper_casing():
    """A registered regex_parser function: group(1) of the first matching regex, stripped, case kept."""
    fn = ScoringFnDef("my::grade", "basic", "", "number", FnParams(type="regex_parser", parsing_regexes=[r"Grade:\s*(\w+)"]))
    scores = [
        await score_row(fn, fn.params, row("pass", "Grade: pass"), None),
        await score_row(fn, fn.params, row("pass", "Grade: PASS"), None),
    ]
    assert scores == [{"score": 1.0, "parsed_answer": "pass"}, {"score": 0.0, "parsed_answer": "PASS"}]


async def test_score_row_carries_the_weight_for_weighted_average():
    """The input row's weight is copied to the score row."""
    [scored] = await score_all("basic::equality", [row("x", "x", weight=2.5)])
    assert scored == {"score": 1.0, "weight": 2.5}


# --- judge -----------------------------------------------------------------------------------


async def test_judge_parses_the_score_and_keeps_feedback():
    """The prompt is the rendered template; the model and output regex reach the judge."""
    calls = []

    async def judge(model: str, prompt: str, regex: str | None) -> str:
        calls.append((model, prompt, regex))
        return "Score: 4"

    fn, params = judge_fn()
    scored = await score_row(fn, params, row("Paris", "It's Paris", input_query="Capital of France?"), judge)
    assert scored == {"score": 4, "judge_feedback": "Score: 4"}
    [(model, prompt, regex)] = calls
    assert (model, regex) == ("judge-1", JUDGE_OUTPUT_REGEX)
    assert "Question: Capital of France?" in prompt and "Reference answer: Paris" in prompt
    assert "Answer to grade: It's Paris" in prompt


async def test_judge_custom_template_renders_missing_columns_empty():
    """A column the row lacks renders as ""; only generated_answer is required."""
    prompts = []

    async def judge(model: str, prompt: str, regex: str | None) -> str:
        prompts.append(prompt)
        return "Rating: 2.5"

    fn, params = judge_fn(prompt_template="Q={input_query}|A={generated_answer}|{{lit}}", judge_score_regexes=[r"Rating: ([\d.]+)"])
    scored = await score_row(fn, params, {"generated_answer": "x"}, judge)
    assert scored == {"score": 2.5, "judge_feedback": "Rating: 2.5"}
    assert prompts == ["Q=|A=x|{lit}"]
    assert required_columns(fn, params) == ("generated_answer",)


async def test_judge_non_numeric_capture_stays_a_string():
    """A categorical grade is kept as text."""

    async def judge(model: str, prompt: str, regex: str | None) -> str:
        return "Grade: B+"

    fn, params = judge_fn(judge_score_regexes=[r"Grade: (\S+)"])
    assert (await score_row(fn, params, row("a", "b"), judge))["score"] == "B+"


async def test_judge_answer_matching_no_regex_is_an_error_row():
    """An unparsable judge answer becomes an error row with score None."""

    async def judge(model: str, prompt: str, regex: str | None) -> str:
        return "I cannot grade this."

    fn, params = judge_fn()
    scored = await score_row(fn, params, row("a", "b"), judge)
    assert scored == {
        "score": None,
        "error": "the judge's answer matched none of judge_score_regexes: 'I cannot grade this.'",
        "judge_feedback": "I cannot grade this.",
    }


async def test_judge_failure_propagates():
    """A judge call that raises is the caller's to retry, not an error row."""

    async def judge(model: str, prompt: str, regex: str | None) -> str:
        raise ConnectionError("inference down")

    fn, params = judge_fn()
    with pytest.raises(ConnectionError):
        await score_row(fn, params, row("a", "b"), judge)


def test_needs_judge_only_for_judge_functions():
    """Only llm_as_judge functions call a judge."""
    assert needs_judge(*judge_fn())
    assert not needs_judge(*builtin("basic::docvqa"))


# --- aggregation -----------------------------------------------------------------------------


ROWS = [{"score": 1.0}, {"score": 0.0}, {"score": 4}, {"score": 1.0}, {"score": True}]


def test_accuracy_counts_booleans_as_one():
    """True counts as 1."""
    assert aggregate(ROWS, ["accuracy"]) == {"accuracy": 7 / 5, "num_correct": 7.0, "num_total": 5}


def test_average_and_median():
    """Mean and median of the numeric scores."""
    assert aggregate(ROWS, ["average", "median"]) == {"average": 1.4, "median": 1.0}


def test_median_of_even_count_is_the_midpoint():
    """Two middle values are averaged."""
    assert aggregate([{"score": 1}, {"score": 2}, {"score": 4}, {"score": 10}], ["median"]) == {"median": 3.0}


def test_weighted_average_uses_row_weights_defaulting_to_one():
    """(1*3 + 0*1 + 0.5*1) / (3 + 1 + 1)."""
    rows = [{"score": 1.0, "weight": 3}, {"score": 0.0}, {"score": 0.5, "weight": 1.0}]
    assert aggregate(rows, ["weighted_average"]) == {"weighted_average": pytest.approx(3.5 / 5)}


def test_weighted_average_with_zero_total_weight_is_none():
    """No weight at all gives None rather than dividing by zero."""
    assert aggregate([{"score": 1.0, "weight": 0}], ["weighted_average"]) == {"weighted_average": None}


def test_categorical_count_keys_are_sorted_strings():
    """Each distinct score as a string, booleans as 1/0."""
    rows = [{"score": "B"}, {"score": "A"}, {"score": "B"}, {"score": 1.0}, {"score": False}]
    assert aggregate(rows, ["categorical_count"]) == {"categorical_count": {"0": 1, "1.0": 1, "A": 1, "B": 2}}


def test_errored_rows_are_excluded_and_counted():
    """Error rows count only in num_errors."""
    rows = [{"score": 5}, {"score": None, "error": "x"}, {"score": 3}, {"score": None, "error": "y"}]
    assert aggregate(rows, ["average", "accuracy", "categorical_count"]) == {
        "average": 4.0,
        "accuracy": 4.0,
        "num_correct": 8,
        "num_total": 2,
        "categorical_count": {"3": 1, "5": 1},
        "num_errors": 2,
    }


def test_num_errors_is_added_even_without_aggregations():
    """num_errors is always reported when a row errored."""
    assert aggregate([{"score": None, "error": "x"}], []) == {"num_errors": 1}


def test_empty_input_gives_zero_counts_and_none_means():
    """Over no rows: counts 0, means/median None, no categories."""
    assert aggregate([], ["accuracy", "average", "weighted_average", "median", "categorical_count"]) == {
        "accuracy": None,
        "num_correct": 0,
        "num_total": 0,
        "average": None,
        "weighted_average": None,
        "median": None,
        "categorical_count": {},
    }


def test_numeric_aggregation_of_text_scores_is_refused():
    """Averaging grades like "B+" is a user error that names categorical_count."""
    with pytest.raises(InvalidArgument, match="categorical_count"):
        aggregate([{"score": "B+"}], ["average"])


# --- params ----------------------------------------------------------------------------------


def test_builtin_params_are_valid():
    """Every built-in's defaults pass validation (the judge once a model is given)."""
    for identifier, fn in BUILTINS.items():
        params = fn.params if fn.provider_id == "basic" else judge_fn()[1]
        check_params(params, where=identifier)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        (FnParams(type="regex_parser", parsing_regexes=[r"(\w+)", r"(unclosed"]), "params.parsing_regexes[1]"),
        (FnParams(type="regex_parser", parsing_regexes=[r"Answer: \w"]), "params.parsing_regexes[0]"),
        (FnParams(type="regex_parser", parsing_regexes=[r"(a)\1"]), "params.parsing_regexes[0]"),
        (FnParams(type="regex_parser"), "params.parsing_regexes"),
        (FnParams(type="llm_as_judge", judge_score_regexes=[r"(\d)"]), "params.judge_model"),
        (FnParams(type="llm_as_judge", judge_model="m"), "params.judge_score_regexes"),
        (FnParams(type="llm_as_judge", judge_model="m", judge_score_regexes=["x", r"(\d)"]), "params.judge_score_regexes[0]"),
        (FnParams(type="basic", judge_output_regex="[0-"), "params.judge_output_regex"),
        (FnParams(type="basic", judge_output_regex=""), "params.judge_output_regex"),
        (FnParams(type="basic", aggregation_functions=["accuracy", "mean", "p99"]), "params.aggregation_functions[1]"),
    ],
)
def test_check_params_names_the_bad_field(params, param):
    """Each unusable field is reported with its exact param path."""
    with raises_invalid(param):
        check_params(params)


def test_unknown_aggregations_are_all_listed():
    """The message names every unknown aggregation and the known ones."""
    with pytest.raises(InvalidArgument) as e:
        check_params(FnParams(type="basic", aggregation_functions=["mean", "accuracy", "p99"]), where="scoring_functions[f]")
    assert e.value.param == "scoring_functions[f].aggregation_functions[0]"
    assert "`mean`, `p99`" in e.value.message and "weighted_average" in e.value.message


@pytest.mark.parametrize(
    "template",
    ["{question}", "{input_query.__class__}", "{}", "{generated_answer!r}", "{expected_answer:>10}", "unbalanced {"],
)
def test_prompt_template_placeholders_are_restricted(template):
    """Only plain {input_query}, {expected_answer} and {generated_answer} are allowed."""
    with raises_invalid("params.prompt_template"):
        check_params(FnParams(type="basic", prompt_template=template))


def test_parse_params_turns_validation_errors_into_invalid_argument():
    """An unknown type is an InvalidArgument on params.type."""
    with raises_invalid("params.type"):
        parse_params({"type": "fuzzy"})
    assert parse_params({"type": "basic", "aggregation_functions": ["median"]}).aggregation_functions == ["median"]


# --- merge -----------------------------------------------------------------------------------


def test_merge_override_fields_win_and_empty_ones_keep_defaults():
    """Set override fields replace defaults; None and [] do not clear them."""
    defaults = BUILTINS["llm-as-judge::base"].params
    merged = merge(defaults, FnParams(type="llm_as_judge", judge_model="m", aggregation_functions=["median"], judge_score_regexes=[]))
    assert merged.judge_model == "m"
    assert merged.aggregation_functions == ["median"]
    assert merged.judge_score_regexes == defaults.judge_score_regexes
    assert merged.prompt_template == defaults.prompt_template
    assert merged.judge_output_regex == defaults.judge_output_regex


def test_merge_does_not_share_default_lists():
    """The merged params own their lists, so the built-ins cannot be altered through them."""
    defaults = BUILTINS["basic::regex_parser_multiple_choice_answer"].params
    merged = merge(defaults, FnParams(type="regex_parser"))
    merged.parsing_regexes.append("(x)")
    assert "(x)" not in defaults.parsing_regexes


def test_merge_with_missing_sides():
    """Either side may be absent."""
    only = FnParams(type="regex_parser", parsing_regexes=["(a)"])
    assert merge(None, only) is only
    assert merge(only, None) is only
    assert merge(None, None) == FnParams(type="basic")


def test_merge_refuses_a_different_type():
    """Per-request params cannot turn a function into another kind."""
    with raises_invalid("params.type"):
        merge(BUILTINS["basic::equality"].params, FnParams(type="llm_as_judge", judge_model="m"))


# --- rows ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "param"),
    [
        ({"expected_answer": "a"}, "input_rows[1].generated_answer"),
        ({"expected_answer": None, "generated_answer": "a"}, "input_rows[1].expected_answer"),
        ({"expected_answer": 4, "generated_answer": "4"}, "input_rows[1].expected_answer"),
        ({"expected_answer": "a", "generated_answer": "a", "input_query": ["q"]}, "input_rows[1].input_query"),
        ({"expected_answer": "a", "generated_answer": "a", "weight": -1}, "input_rows[1].weight"),
        ({"expected_answer": "a", "generated_answer": "a", "weight": "2"}, "input_rows[1].weight"),
    ],
)
def test_check_rows_names_row_and_column(bad, param):
    """A missing or non-string column is reported as input_rows[i].column."""
    fn, params = builtin("basic::equality")
    with raises_invalid(param):
        check_rows(fn, params, [row("a", "a"), bad])


def test_check_rows_message_and_custom_where():
    """The message says which row and column, and `where` prefixes the param."""
    fn, params = builtin("basic::subset_of")
    with pytest.raises(InvalidArgument) as e:
        check_rows(fn, params, [{"generated_answer": "x"}], where="rows")
    assert (e.value.message, e.value.param) == ("row 0, column `expected_answer`: is required", "rows[0].expected_answer")


def test_judge_rows_need_only_generated_answer():
    """A judge row without expected_answer is fine; without generated_answer it is not."""
    fn, params = judge_fn()
    check_rows(fn, params, [{"generated_answer": "x"}])
    with raises_invalid("input_rows[0].generated_answer"):
        check_rows(fn, params, [{"expected_answer": "x"}])


def test_user_function_of_type_basic_is_refused():
    """Only built-ins know what a `basic` function computes."""
    fn = ScoringFnDef("my::fn", "basic", "", "number", FnParams(type="basic"))
    with raises_invalid("params.type"):
        required_columns(fn, fn.params)


def test_expected_answer_json_list_is_kept_as_the_column_value():
    """docvqa rows keep their JSON list text as expected_answer (a string column)."""
    fn, params = builtin("basic::docvqa")
    check_rows(fn, params, [row(json.dumps(["a", "b"]), "a")])
