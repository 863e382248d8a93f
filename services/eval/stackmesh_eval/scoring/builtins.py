"""The built-in scoring functions, as data: what `ListScoringFunctions` shows before any registration."""

from __future__ import annotations

from dataclasses import dataclass

from stackmesh_eval.scoring.params import FnParams


@dataclass(frozen=True)
class ScoringFnDef:
    """A scoring function: a built-in or one a user registered."""

    identifier: str
    provider_id: str
    description: str
    # The proto's ParamType.type of each row's score.
    return_type: str
    # Defaults that per-request params override; None for a function without any.
    params: FnParams | None


# Option letters up to J cover ten-option sets such as MMLU-Pro's. Tried in order; the first
# that matches gives the answer. Letters are matched upper-case only so that "the answer is a
# dog" does not read as option A.
MULTIPLE_CHOICE_REGEXES = [
    # "Answer: B", "**Answer:** (B)", "answer：C"
    r"(?i:answer)\s*[:：][\s*_]*\(?([A-J])\b",
    # "The answer is D.", "the answer is (C)", "answer is: **B**"
    r"(?i:answer\s+is)[\s*_:：]*\(?([A-J])\b",
    # A line holding only the letter: "B", "(B)", "B.", "**B**"
    r"(?m)^[\s*_]*\(?([A-J])\)?[.)]?[\s*_]*$",
]

# A 0-5 scale in one line: the output regex below forces exactly this shape, so even a small
# judge model answers parseably. To let a capable judge reason first, override
# judge_output_regex with a permissive one (e.g. "[\s\S]*") or register your own function.
JUDGE_PROMPT_TEMPLATE = """\
You are grading an answer to a question against a reference answer.

Question: {input_query}
Reference answer: {expected_answer}
Answer to grade: {generated_answer}

Rate how correct and complete the answer is compared with the reference answer, from 0 \
(wrong or unrelated) to 5 (fully correct). Reply with exactly one line of the form \
"Score: N", where N is an integer from 0 to 5."""

JUDGE_SCORE_REGEXES = [r"(?i)score\s*:\s*\**\s*(\d+(?:\.\d+)?)"]

JUDGE_OUTPUT_REGEX = r"Score: [0-5]"

BUILTINS: dict[str, ScoringFnDef] = {
    fn.identifier: fn
    for fn in (
        ScoringFnDef(
            identifier="basic::equality",
            provider_id="basic",
            description="1.0 if the generated answer equals the expected answer "
            "(surrounding whitespace ignored), 0.0 otherwise.",
            return_type="number",
            params=FnParams(type="basic", aggregation_functions=["accuracy"]),
        ),
        ScoringFnDef(
            identifier="basic::subset_of",
            provider_id="basic",
            description="1.0 if the expected answer appears within the generated answer, 0.0 otherwise.",
            return_type="number",
            params=FnParams(type="basic", aggregation_functions=["accuracy"]),
        ),
        ScoringFnDef(
            identifier="basic::regex_parser_multiple_choice_answer",
            provider_id="basic",
            description="Extracts a multiple-choice letter (A-J) from the generated answer with regexes; "
            "1.0 if it is the expected letter, 0.0 otherwise.",
            return_type="number",
            params=FnParams(
                type="regex_parser", parsing_regexes=MULTIPLE_CHOICE_REGEXES, aggregation_functions=["accuracy"]
            ),
        ),
        ScoringFnDef(
            identifier="basic::docvqa",
            provider_id="basic",
            description="ANLS against the expected answer (a string, or a JSON list of acceptable answers): "
            "1 - normalized edit distance to the closest answer, 0.0 below 0.5.",
            return_type="number",
            params=FnParams(type="basic", aggregation_functions=["accuracy"]),
        ),
        ScoringFnDef(
            identifier="llm-as-judge::base",
            provider_id="llm-as-judge",
            description="A judge model rates the generated answer against the expected answer from 0 to 5; "
            "give judge_model in the request's params.",
            return_type="number",
            params=FnParams(
                type="llm_as_judge",
                prompt_template=JUDGE_PROMPT_TEMPLATE,
                judge_score_regexes=JUDGE_SCORE_REGEXES,
                judge_output_regex=JUDGE_OUTPUT_REGEX,
                aggregation_functions=["average"],
            ),
        ),
    )
}
