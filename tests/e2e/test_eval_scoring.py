"""Llama Stack's scoring-functions and scoring APIs through the gateway: the built-ins and every
aggregation with exact numbers, SmolLM2 as a judge under guided decoding, registration,
score-batch over datasets, a 10,000-row score, bad input in OpenAI's error envelope, and the
same Score RPC over plain gRPC."""

from __future__ import annotations

import re
import statistics
import time
import uuid

import grpc
import httpx
import pytest
from google.protobuf import json_format

from stackmesh.eval.v1 import eval_service_pb2 as pb
from stackmesh.eval.v1 import eval_service_pb2_grpc as pb_grpc
from tests.conftest import CHAT_MODEL
from tests.e2e.test_bad_input import error_of

FUNCTIONS = "/v1/scoring-functions"
SCORE = "/v1/scoring/score"
SCORE_BATCH = "/v1/scoring/score-batch"
DATASETS = "/v1beta/datasets"
BUILTINS = {
    "basic::equality",
    "basic::subset_of",
    "basic::regex_parser_multiple_choice_answer",
    "basic::docvqa",
    "llm-as-judge::base",
}
JUDGE = {"type": "llm_as_judge", "judge_model": CHAT_MODEL, "judge_output_regex": "Score: [0-5]"}
# A regex_parser function's score is 1.0 when the captured text equals the expected answer.
GRADE_REGEX = r"Grade: (\w+)"


@pytest.fixture(scope="module")
def api(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.gateway_url, timeout=300) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def row(expected: str, generated: str, **extra) -> dict:
    return {"expected_answer": expected, "generated_answer": generated, **extra}


def score(api: httpx.Client, rows: list[dict], functions: dict) -> dict:
    response = api.post(SCORE, json={"input_rows": rows, "scoring_functions": functions})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def scores(result: dict) -> list:
    return [r["score"] for r in result["score_rows"]]


def register(api: httpx.Client, fn_id: str, params: dict, **fields) -> httpx.Response:
    body = {"scoring_fn_id": fn_id, "description": "a test function", "return_type": {"type": "number"}, "params": params, **fields}
    return api.post(FUNCTIONS, json=body)


def register_ok(api: httpx.Client, params: dict, prefix: str = "test::fn", **fields) -> str:
    fn_id = unique(prefix)
    response = register(api, fn_id, params, **fields)
    assert response.status_code == 200, response.text
    return fn_id


def register_dataset(api: httpx.Client, rows: list[dict]) -> str:
    response = api.post(DATASETS, json={"purpose": "eval/question-answer", "source": {"type": "rows", "rows": rows}})
    assert response.status_code == 200, response.text
    return response.json()["identifier"]


@pytest.fixture(scope="module")
def grader(api) -> str:
    """A registered regex_parser function that aggregates with all five aggregations."""
    return register_ok(
        api,
        {
            "type": "regex_parser",
            "parsing_regexes": [GRADE_REGEX],
            "aggregation_functions": ["accuracy", "average", "weighted_average", "median", "categorical_count"],
        },
        prefix="test::grader",
    )


# Five rows, three graded right; the weights make the weighted average (2 + 3 + 0.5) / 7.5.
GRADED = [
    row("pass", "Grade: pass", weight=2),
    row("pass", "Grade: fail", weight=1),
    row("fail", "Grade: fail", weight=3),
    row("pass", "no grade at all", weight=1),
    row("fail", "Grade: fail", weight=0.5),
]


# ---- the built-ins ---------------------------------------------------------------------------


def test_the_builtins_are_listed_with_their_default_params(api):
    """Every built-in is listed; the judge's defaults force the 'Score: N' answer shape."""
    listed = {fn["identifier"]: fn for fn in api.get(FUNCTIONS).json()["data"]}
    assert BUILTINS <= set(listed)
    assert all(listed[i]["type"] == "scoring_function" and listed[i]["return_type"] == {"type": "number"} for i in BUILTINS)
    assert listed["basic::equality"]["provider_id"] == "basic"
    judge = api.get(f"{FUNCTIONS}/llm-as-judge::base").json()
    assert judge["provider_id"] == "llm-as-judge"
    assert judge["params"]["type"] == "llm_as_judge"
    assert judge["params"]["judge_output_regex"] == "Score: [0-5]"
    assert judge["params"]["aggregation_functions"] == ["average"]
    assert "{generated_answer}" in judge["params"]["prompt_template"]
    assert judge["params"].get("judge_model") in (None, "")


def test_equality_ignores_only_surrounding_whitespace(api):
    """basic::equality: exact match after stripping; case and wording count."""
    rows = [row("Paris", "Paris"), row("Paris", "  Paris\n"), row("Paris", "paris"), row("4", "four")]
    result = score(api, rows, {"basic::equality": None})["basic::equality"]
    assert scores(result) == [1.0, 1.0, 0.0, 0.0]
    assert result["aggregated_results"] == {"accuracy": 0.5, "num_correct": 2, "num_total": 4}


def test_subset_of_finds_the_expected_answer_inside_the_generated_one(api):
    """basic::subset_of: the expected answer as a case-sensitive substring."""
    rows = [row("Paris", "The capital is Paris."), row("blue", "Blue"), row("42", "It is 42, surely"), row("cat", "dog")]
    result = score(api, rows, {"basic::subset_of": None})["basic::subset_of"]
    assert scores(result) == [1.0, 0.0, 1.0, 0.0]
    assert result["aggregated_results"] == {"accuracy": 0.5, "num_correct": 2, "num_total": 4}


MULTIPLE_CHOICE = [
    # (expected, generated, parsed_answer, score)
    ("B", "Answer: B", "B", 1.0),
    ("C", "**Answer:** (C)", "C", 1.0),
    ("D", "Let me think. The answer is D.", "D", 1.0),
    ("A", "answer is: **A**", "A", 1.0),
    ("E", "Options weighed.\n(E)\n", "E", 1.0),
    ("b", "Reasoning first...\nB.", "B", 1.0),
    ("C", "Answer: B", "B", 0.0),
    ("A", "the answer is a dog", None, 0.0),
]


def test_multiple_choice_regex_reads_several_answer_styles(api):
    """basic::regex_parser_multiple_choice_answer: 'Answer: X', '**Answer:** (X)', 'the answer is X',
    a lone letter line; lower-case prose is no option letter."""
    rows = [row(expected, generated) for expected, generated, _, _ in MULTIPLE_CHOICE]
    result = score(api, rows, {"basic::regex_parser_multiple_choice_answer": None})["basic::regex_parser_multiple_choice_answer"]
    assert [(r["parsed_answer"], r["score"]) for r in result["score_rows"]] == [(p, s) for _, _, p, s in MULTIPLE_CHOICE]
    assert result["aggregated_results"] == {"accuracy": 0.75, "num_correct": 6, "num_total": 8}


def test_docvqa_scores_anls_with_near_misses_and_json_lists(api):
    """basic::docvqa: normalized matches score 1, a near miss 1 - distance/length, under 0.5 is 0;
    a JSON list expected answer takes the closest of its answers."""
    acceptable = '["1984", "nineteen eighty-four"]'
    rows = [
        row("Paris", "paris."),
        row("Paris", "Pari"),
        row("Paris", "Parsi"),
        row("Paris", "London"),
        row("The Eiffel Tower", "eiffel tower"),
        row(acceptable, "Nineteen eighty-four"),
        row(acceptable, "198"),
        row(acceptable, "1776"),
    ]
    result = score(api, rows, {"basic::docvqa": None})["basic::docvqa"]
    assert scores(result) == pytest.approx([1.0, 0.8, 0.6, 0.0, 1.0, 1.0, 0.75, 0.0])
    aggregated = result["aggregated_results"]
    assert aggregated["accuracy"] == pytest.approx(5.15 / 8)
    assert (aggregated["num_correct"], aggregated["num_total"]) == (pytest.approx(5.15), 8)


def test_one_request_scores_the_rows_under_several_functions(api):
    """Each named function gets its own score rows and aggregates over the same rows."""
    rows = [row("Paris", "Paris"), row("Paris", "It is Paris")]
    results = score(api, rows, {"basic::equality": None, "basic::subset_of": {"type": "basic"}})
    assert set(results) == {"basic::equality", "basic::subset_of"}
    assert scores(results["basic::equality"]) == [1.0, 0.0]
    assert scores(results["basic::subset_of"]) == [1.0, 1.0]


# ---- aggregations ----------------------------------------------------------------------------


def test_a_registered_regex_function_aggregates_with_all_five(api, grader):
    """One registered regex_parser function: accuracy, average, weighted_average (with weights),
    median and categorical_count, exactly."""
    result = score(api, GRADED, {grader: None})[grader]
    assert scores(result) == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert [r["parsed_answer"] for r in result["score_rows"]] == ["pass", "fail", "fail", None, "fail"]
    assert [r["weight"] for r in result["score_rows"]] == [2, 1, 3, 1, 0.5]
    assert result["aggregated_results"] == {
        "accuracy": 0.6,
        "num_correct": 3,
        "num_total": 5,
        "average": 0.6,
        "weighted_average": pytest.approx(5.5 / 7.5),
        "median": 1.0,
        "categorical_count": {"0.0": 2, "1.0": 3},
    }


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("accuracy", {"accuracy": 0.6, "num_correct": 3, "num_total": 5}),
        ("average", {"average": 0.6}),
        ("weighted_average", {"weighted_average": pytest.approx(5.5 / 7.5)}),
        ("median", {"median": 1.0}),
        ("categorical_count", {"categorical_count": {"0.0": 2, "1.0": 3}}),
    ],
)
def test_each_aggregation_alone_gives_exactly_its_keys(api, grader, aggregation, expected):
    """A per-request aggregation_functions override replaces the function's defaults."""
    params = {"type": "regex_parser", "aggregation_functions": [aggregation]}
    assert score(api, GRADED, {grader: params})[grader]["aggregated_results"] == expected


def test_weighted_average_counts_a_missing_or_null_weight_as_one(api, grader):
    """Rows without `weight`, or with a null one, weigh 1: (1*3 + 0*1 + 1*1) / 5."""
    rows = [row("pass", "Grade: pass", weight=3), row("pass", "Grade: fail"), row("pass", "Grade: pass", weight=None)]
    params = {"type": "regex_parser", "aggregation_functions": ["weighted_average", "median"]}
    result = score(api, rows, {grader: params})[grader]
    assert result["aggregated_results"] == {"weighted_average": 0.8, "median": 1.0}
    assert [r.get("weight") for r in result["score_rows"]] == [3, None, None]


# ---- LLM as judge ----------------------------------------------------------------------------


def test_smollm2_judges_through_the_base_function_under_the_score_regex(api):
    """llm-as-judge::base with SmolLM2 forced to 'Score: [0-5]': integer scores 0..5, feedback in that
    shape, and the average is the mean of the row scores."""
    rows = [
        {"input_query": "What is the capital of France?", "expected_answer": "Paris", "generated_answer": "Paris"},
        {"input_query": "What is 2 + 2?", "expected_answer": "4", "generated_answer": "5"},
        {"input_query": "What colour is the sky?", "expected_answer": "blue", "generated_answer": "The sky is blue."},
    ]
    result = score(api, rows, {"llm-as-judge::base": JUDGE})["llm-as-judge::base"]
    assert len(result["score_rows"]) == 3
    for score_row in result["score_rows"]:
        assert "error" not in score_row, score_row
        assert re.fullmatch(r"Score: [0-5]", score_row["judge_feedback"]), score_row
        assert score_row["score"] == int(score_row["judge_feedback"][-1])
        assert score_row["score"] in range(6)
    assert set(result["aggregated_results"]) == {"average"}
    assert result["aggregated_results"]["average"] == pytest.approx(statistics.mean(scores(result)))


def test_a_judge_answer_no_score_regex_parses_is_a_row_error_not_a_failed_request(api):
    """A judge forced to 'Verdict: yes|no' that a 'Score: (\\d)' regex cannot read: each row is
    score null with an error, the request is 200 and the aggregate counts num_errors."""
    fn_id = register_ok(
        api,
        {
            "type": "llm_as_judge",
            "judge_model": CHAT_MODEL,
            "prompt_template": "Is '{generated_answer}' a correct answer to '{input_query}'? Reply yes or no.",
            "judge_score_regexes": [r"Score: (\d)"],
            "judge_output_regex": "Verdict: (yes|no)",
            "aggregation_functions": ["average", "categorical_count"],
        },
        prefix="test::verdict",
    )
    assert api.get(f"{FUNCTIONS}/{fn_id}").json()["provider_id"] == "llm-as-judge"
    rows = [
        {"input_query": "Capital of Italy?", "generated_answer": "Rome"},
        {"input_query": "Largest planet?", "expected_answer": "Jupiter", "generated_answer": "Mars"},
    ]
    result = score(api, rows, {fn_id: None})[fn_id]
    for score_row in result["score_rows"]:
        assert score_row["score"] is None
        assert re.fullmatch(r"Verdict: (yes|no)", score_row["judge_feedback"]), score_row
        assert "judge_score_regexes" in score_row["error"] and score_row["judge_feedback"] in score_row["error"]
    assert result["aggregated_results"] == {"average": None, "categorical_count": {}, "num_errors": 2}


def test_a_row_too_long_for_the_judge_is_a_row_error_and_the_others_are_scored(api):
    """A generated answer past SmolLM2's context fails that row only, counted in num_errors."""
    rows = [
        {"input_query": "Capital of France?", "expected_answer": "Paris", "generated_answer": "Paris"},
        {"input_query": "Capital of France?", "expected_answer": "Paris", "generated_answer": "Paris " * 6000},
    ]
    result = score(api, rows, {"llm-as-judge::base": JUDGE})["llm-as-judge::base"]
    first, second = result["score_rows"]
    assert first["score"] in range(6) and "error" not in first
    assert second["score"] is None and CHAT_MODEL in second["error"] and "context" in second["error"]
    assert result["aggregated_results"] == {"average": first["score"], "num_errors": 1}


def test_an_output_regex_the_inference_service_refuses_is_400_naming_it(api):
    r"""`\z` is valid RE2 but not a regex the inference service decodes under."""
    params = {**JUDGE, "judge_output_regex": r"Score: [0-5]\z"}
    response = api.post(SCORE, json={"input_rows": [row("a", "a")], "scoring_functions": {"llm-as-judge::base": params}})
    assert response.status_code == 400, response.text
    assert error_of(response)["param"] == "params.judge_output_regex"


# ---- registration ----------------------------------------------------------------------------


def test_a_regex_function_is_registered_got_listed_and_unregistered(api):
    """Register, get, list, delete; then it is 404 and gone from the list."""
    params = {"type": "regex_parser", "parsing_regexes": [GRADE_REGEX], "aggregation_functions": ["accuracy"]}
    fn_id = register_ok(api, params, provider_scoring_fn_id="grade-v1")
    got = api.get(f"{FUNCTIONS}/{fn_id}")
    assert got.status_code == 200, got.text
    fn = got.json()
    assert (fn["identifier"], fn["provider_id"], fn["provider_resource_id"], fn["type"]) == (fn_id, "basic", "grade-v1", "scoring_function")
    assert (fn["description"], fn["return_type"]) == ("a test function", {"type": "number"})
    assert (fn["params"]["type"], fn["params"]["parsing_regexes"], fn["params"]["aggregation_functions"]) == (
        "regex_parser", [GRADE_REGEX], ["accuracy"]
    )
    assert fn_id in {f["identifier"] for f in api.get(FUNCTIONS).json()["data"]}

    assert api.delete(f"{FUNCTIONS}/{fn_id}").status_code == 200
    gone = api.get(f"{FUNCTIONS}/{fn_id}")
    assert gone.status_code == 404
    assert fn_id in error_of(gone)["message"]
    assert fn_id not in {f["identifier"] for f in api.get(FUNCTIONS).json()["data"]}
    assert api.delete(f"{FUNCTIONS}/{fn_id}").status_code == 404


def test_a_builtin_cannot_be_unregistered(api):
    """DELETE of a built-in is 400 and leaves it scoring."""
    response = api.delete(f"{FUNCTIONS}/basic::equality")
    assert response.status_code == 400
    error = error_of(response)
    assert "basic::equality" in error["message"] and "built in" in error["message"]
    assert api.get(f"{FUNCTIONS}/basic::equality").status_code == 200


def test_registering_an_existing_id_is_409(api):
    """A second registration under the same id, user or built-in, is refused."""
    params = {"type": "regex_parser", "parsing_regexes": [GRADE_REGEX]}
    fn_id = register_ok(api, params)
    again = register(api, fn_id, params)
    assert again.status_code == 409, again.text
    assert fn_id in error_of(again)["message"]
    assert register(api, "basic::equality", params).status_code == 409


# ---- score-batch -----------------------------------------------------------------------------

BATCH_ROWS = [
    {"question": "Capital of France?", "answer": "Paris", "generated_answer": "Paris"},
    {"question": "2 + 2?", "answer": "4", "generated_answer": "It is 4"},
    {"question": "Colour of the sky?", "answer": "blue", "generated_answer": "green"},
]


def test_score_batch_scores_a_registered_dataset(api):
    """`answer` becomes expected_answer; nothing is saved unless asked."""
    dataset_id = register_dataset(api, BATCH_ROWS)
    response = api.post(SCORE_BATCH, json={
        "dataset_id": dataset_id, "scoring_functions": {"basic::equality": None, "basic::subset_of": None}, "save_results_dataset": False,
    })
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("dataset_id") in (None, "")
    assert scores(body["results"]["basic::equality"]) == [1.0, 0.0, 0.0]
    assert scores(body["results"]["basic::subset_of"]) == [1.0, 1.0, 0.0]
    assert body["results"]["basic::subset_of"]["aggregated_results"] == {"accuracy": pytest.approx(2 / 3), "num_correct": 2, "num_total": 3}


def test_score_batch_saves_the_scored_rows_as_a_new_dataset(api):
    """save_results_dataset: a new dataset whose rows are the originals plus each function's score row."""
    dataset_id = register_dataset(api, BATCH_ROWS)
    response = api.post(SCORE_BATCH, json={"dataset_id": dataset_id, "scoring_functions": {"basic::subset_of": None}, "save_results_dataset": True})
    assert response.status_code == 200, response.text
    saved_id = response.json()["dataset_id"]
    assert saved_id and saved_id != dataset_id
    saved = api.get(f"{DATASETS}/{saved_id}").json()
    assert saved["purpose"] == "eval/question-answer"
    assert saved["metadata"] == {"scored_from": dataset_id, "scoring_functions": ["basic::subset_of"]}
    page = api.get(f"/v1beta/datasetio/iterrows/{saved_id}").json()
    assert page["has_more"] is False
    assert page["data"] == [{**r, "basic::subset_of": {"score": s}} for r, s in zip(BATCH_ROWS, [1.0, 1.0, 0.0])]


def test_score_batch_names_the_dataset_row_without_generated_answer(api):
    """A dataset row the function cannot score is a 400 naming rows[i].generated_answer."""
    dataset_id = register_dataset(api, [BATCH_ROWS[0], {"question": "Q?", "answer": "A"}])
    response = api.post(SCORE_BATCH, json={"dataset_id": dataset_id, "scoring_functions": {"basic::equality": None}})
    assert response.status_code == 400
    assert error_of(response)["param"] == "rows[1].generated_answer"


# ---- scale -----------------------------------------------------------------------------------


def test_ten_thousand_rows_score_with_equality_in_one_request(api):
    """10,000 rows in one synchronous score; three in four correct."""
    rows = [row(f"answer {i}", f"answer {i}" if i % 4 else f"wrong {i}") for i in range(10_000)]
    started = time.perf_counter()
    result = score(api, rows, {"basic::equality": None})["basic::equality"]
    elapsed = time.perf_counter() - started
    print(f"\n10,000-row basic::equality score: {elapsed:.2f} s, {10_000 / elapsed:,.0f} rows/s")
    assert len(result["score_rows"]) == 10_000
    assert scores(result)[:4] == [0.0, 1.0, 1.0, 1.0]
    assert result["aggregated_results"] == {"accuracy": 0.75, "num_correct": 7500, "num_total": 10_000}


# ---- bad input -------------------------------------------------------------------------------


def test_an_unknown_scoring_function_is_404_naming_it(api):
    response = api.post(SCORE, json={"input_rows": [row("a", "a")], "scoring_functions": {"no::such-fn": None}})
    assert response.status_code == 404
    error = error_of(response)
    assert "no::such-fn" in error["message"]
    assert error["param"] == "scoring_functions.no::such-fn"


def test_an_unknown_judge_model_is_404_naming_it(api):
    params = {**JUDGE, "judge_model": "no-such-judge"}
    response = api.post(SCORE, json={"input_rows": [row("a", "a")], "scoring_functions": {"llm-as-judge::base": params}})
    assert response.status_code == 404
    error = error_of(response)
    assert "no-such-judge" in error["message"]
    assert error["param"] == "scoring_functions.llm-as-judge::base.judge_model"
    registered = register(api, unique("test::judge"), {**params, "judge_score_regexes": [r"Score: (\d)"]})
    assert registered.status_code == 404
    assert "no-such-judge" in error_of(registered)["message"]


def test_the_base_judge_without_a_judge_model_is_400(api):
    response = api.post(SCORE, json={"input_rows": [row("a", "a")], "scoring_functions": {"llm-as-judge::base": None}})
    assert response.status_code == 400
    assert error_of(response)["param"] == "scoring_functions.llm-as-judge::base.judge_model"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"type": "regex_parser", "parsing_regexes": ["Grade: ([a-z"]}, "params.parsing_regexes[0]"),
        ({"type": "regex_parser", "parsing_regexes": [GRADE_REGEX, r"Grade: \w+"]}, "params.parsing_regexes[1]"),
        ({"type": "regex_parser", "parsing_regexes": []}, "params.parsing_regexes"),
        ({"type": "regex_parser", "parsing_regexes": [GRADE_REGEX], "aggregation_functions": ["mode"]}, "params.aggregation_functions[0]"),
    ],
    ids=["bad-regex", "no-capture-group", "no-regex", "unknown-aggregation"],
)
def test_unusable_regex_params_are_400_naming_the_field(api, params, param):
    fn_id = unique("test::bad")
    response = register(api, fn_id, params)
    assert response.status_code == 400, response.text
    assert error_of(response)["param"] == param
    assert api.get(f"{FUNCTIONS}/{fn_id}").status_code == 404


def test_a_bad_regex_in_request_params_is_400(api, grader):
    """The same check applies to a per-request override."""
    response = api.post(SCORE, json={
        "input_rows": [row("pass", "Grade: pass")], "scoring_functions": {grader: {"type": "regex_parser", "parsing_regexes": ["(unclosed"]}},
    })
    assert response.status_code == 400
    assert error_of(response)["param"] == f"scoring_functions.{grader}.parsing_regexes[0]"


@pytest.mark.parametrize("template", ["Grade {generated_answer} given {context}", "Grade {generated_answer.upper}", "Grade {0}", "Grade {"])
def test_a_prompt_template_with_an_unknown_placeholder_is_400(api, template):
    params = {"type": "llm_as_judge", "judge_model": CHAT_MODEL, "prompt_template": template, "judge_score_regexes": [r"Score: (\d)"]}
    response = register(api, unique("test::judge"), params)
    assert response.status_code == 400, response.text
    assert error_of(response)["param"] == "params.prompt_template"


def test_a_row_without_generated_answer_is_400_naming_it(api):
    response = api.post(SCORE, json={
        "input_rows": [row("a", "a"), {"expected_answer": "b"}], "scoring_functions": {"basic::equality": None},
    })
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "input_rows[1].generated_answer"
    assert "generated_answer" in error["message"]


@pytest.mark.parametrize("weight", [-1, "heavy"])
def test_a_bad_weight_is_400_naming_it(api, weight):
    response = api.post(SCORE, json={"input_rows": [row("a", "a", weight=weight)], "scoring_functions": {"basic::equality": None}})
    assert response.status_code == 400
    assert error_of(response)["param"] == "input_rows[0].weight"


def test_an_unknown_dataset_in_score_batch_is_404(api):
    response = api.post(SCORE_BATCH, json={"dataset_id": "no-such-dataset", "scoring_functions": {"basic::equality": None}})
    assert response.status_code == 404
    error = error_of(response)
    assert "no-such-dataset" in error["message"] and error["param"] == "dataset_id"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input_rows": [], "scoring_functions": {"basic::equality": None}}, "input_rows"),
        ({"input_rows": [{"expected_answer": "a", "generated_answer": "a"}], "scoring_functions": {}}, "scoring_functions"),
    ],
    ids=["no-rows", "no-functions"],
)
def test_an_empty_request_is_400(api, body, param):
    response = api.post(SCORE, json=body)
    assert response.status_code == 400
    assert error_of(response)["param"] == param


@pytest.mark.parametrize(
    ("functions", "param"),
    [
        ({"basic::equality": {"type": "regex_parser", "parsing_regexes": [GRADE_REGEX]}}, "scoring_functions.basic::equality.type"),
        ({"basic::equality": {"type": "bogus"}}, "scoring_functions.basic::equality.type"),
        ({"basic::equality": "accuracy"}, "scoring_functions.basic::equality"),
        ({"basic::equality": {"type": "basic", "parsing_regexes": "x"}}, "scoring_functions.basic::equality.parsing_regexes"),
    ],
    ids=["other-type", "unknown-type", "not-an-object", "list-field-as-string"],
)
def test_request_params_of_the_wrong_type_are_400(api, functions, param):
    response = api.post(SCORE, json={"input_rows": [row("a", "a")], "scoring_functions": functions})
    assert response.status_code == 400, response.text
    assert error_of(response)["param"] == param


@pytest.mark.parametrize(
    ("params", "param"),
    [({"type": "basic"}, "params.type"), ({"type": "bogus"}, "params.type"), (None, "params")],
    ids=["basic", "unknown-type", "none"],
)
def test_registered_params_of_the_wrong_type_are_400(api, params, param):
    body = {"scoring_fn_id": unique("test::bad"), "description": "d", "return_type": {"type": "number"}}
    if params is not None:
        body["params"] = params
    response = api.post(FUNCTIONS, json=body)
    assert response.status_code == 400, response.text
    assert error_of(response)["param"] == param


# ---- gRPC ------------------------------------------------------------------------------------


def test_score_over_grpc_returns_the_same_results(stack, grader):
    """ScoringService.Score on the eval service's own port, with the generated stubs."""
    request = pb.ScoreRequest()
    for expected, generated in (("pass", "Grade: pass"), ("pass", "Grade: fail")):
        request.input_rows.add().update({"expected_answer": expected, "generated_answer": generated})
    request.scoring_functions.update({"basic::equality": None, grader: None})
    with grpc.insecure_channel(stack.service_address("eval")) as channel:
        stub = pb_grpc.ScoringServiceStub(channel)
        response = stub.Score(request, timeout=60)
        results = {fn_id: json_format.MessageToDict(result, preserving_proto_field_name=True) for fn_id, result in response.results.items()}
        assert results["basic::equality"]["score_rows"] == [{"score": 0.0}, {"score": 0.0}]
        assert results[grader]["score_rows"] == [{"score": 1.0, "parsed_answer": "pass"}, {"score": 0.0, "parsed_answer": "fail"}]
        assert results[grader]["aggregated_results"]["accuracy"] == 0.5

        missing = pb.ScoreRequest()
        missing.scoring_functions.update({"no::such-fn": None})
        missing.input_rows.add().update({"expected_answer": "a", "generated_answer": "a"})
        with pytest.raises(grpc.RpcError) as caught:
            stub.Score(missing, timeout=60)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert "no::such-fn" in caught.value.details()
