"""Scoring rows with registered functions: resolve and check the functions a request names,
score each row under each, aggregate."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from stackmesh_common.errors import InvalidArgument
from stackmesh_eval.scoring.aggregation import aggregate
from stackmesh_eval.scoring.builtins import ScoringFnDef
from stackmesh_eval.scoring.params import FnParams, check_params, merge, parse_params
from stackmesh_eval.scoring.scorers import Judge, check_rows, score_row
from stackmesh_eval.scoring_functions import ScoringFunctions

# Aggregations of a function that names none: what its kind of score means.
_DEFAULT_AGGREGATIONS = {"basic": ["accuracy"], "regex_parser": ["accuracy"], "llm_as_judge": ["average"]}


def aggregations_of(params: FnParams) -> list[str]:
    return params.aggregation_functions or _DEFAULT_AGGREGATIONS[params.type]


@dataclass(frozen=True)
class ScoringPlan:
    fn: ScoringFnDef
    params: FnParams

    @property
    def id(self) -> str:
        return self.fn.identifier

    @property
    def aggregations(self) -> list[str]:
        return aggregations_of(self.params)

    @property
    def calls_model(self) -> bool:
        return self.params.type == "llm_as_judge"


def scoring_row(row: dict[str, Any], generated_answer: str | None = None) -> dict[str, Any]:
    """A row with the columns scorers read (Llama Stack's names), filled from a dataset's own
    (`answer`, `question`, `messages`) where it lacks them."""
    scored = dict(row)
    if "expected_answer" not in scored and "answer" in scored:
        scored["expected_answer"] = scored["answer"]
    if "input_query" not in scored:
        if "question" in scored:
            scored["input_query"] = scored["question"]
        elif isinstance(scored.get("messages"), list):
            users = [m.get("content") for m in scored["messages"] if isinstance(m, dict) and m.get("role") == "user"]
            if users and isinstance(users[-1], str):
                scored["input_query"] = users[-1]
    if generated_answer is not None:
        scored["generated_answer"] = generated_answer
    return scored


class Scorer:
    def __init__(self, functions: ScoringFunctions, judge: Judge) -> None:
        self.functions = functions
        self.judge = judge

    async def plan(self, requested: dict[str, Any], param: str) -> list[ScoringPlan]:
        """The functions a request names ({id: params or null}), with their params merged and
        checked; an unknown function or judge model is a 404 naming it."""
        if not requested:
            raise InvalidArgument(f"`{param}` must name at least one scoring function", param=param)
        plans = []
        for fn_id, override in requested.items():
            fn, _ = await self.functions.get(fn_id, f"{param}.{fn_id}")
            where = f"{param}.{fn_id}"
            if override is not None and not isinstance(override, dict):
                raise InvalidArgument(f"the params of scoring function `{fn_id}` must be an object or null", param=where)
            given = parse_params(override, where=where) if override else None
            params = merge(fn.params, given, where=where)
            if params.type == "llm_as_judge" and not params.judge_model:
                raise InvalidArgument(
                    f"scoring function `{fn_id}` needs a judge model: give {{\"type\": \"llm_as_judge\", \"judge_model\": …}} as its params",
                    param=f"{where}.judge_model",
                )
            check_params(params, where=where)
            if params.judge_model:
                await self.functions.check_judge(params.judge_model, f"{where}.judge_model")
            plans.append(ScoringPlan(fn, params))
        return plans

    def check(self, plans: list[ScoringPlan], rows: list[dict[str, Any]], where: str) -> None:
        for plan in plans:
            check_rows(plan.fn, plan.params, rows, where=where)

    async def score_one(self, plans: list[ScoringPlan], row: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """One row's score under each function (judge calls run concurrently)."""
        if any(plan.calls_model for plan in plans):
            scores = await asyncio.gather(*(score_row(plan.fn, plan.params, row, self.judge) for plan in plans))
        else:
            scores = [await score_row(plan.fn, plan.params, row, self.judge) for plan in plans]
        return {plan.id: score for plan, score in zip(plans, scores)}

    async def score(self, plans: list[ScoringPlan], rows: list[dict[str, Any]], concurrency: int) -> dict[str, list[dict[str, Any]]]:
        """Every row under every function; rows that call a model run `concurrency` at a time."""
        per_fn: dict[str, list[dict[str, Any]]] = {plan.id: [] for plan in plans}
        if any(plan.calls_model for plan in plans):
            gate = asyncio.Semaphore(concurrency)

            async def gated(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
                async with gate:
                    return await self.score_one(plans, row)

            scored = await asyncio.gather(*(gated(row) for row in rows))
        else:
            # Pure functions: no tasks, no gather (10,000 rows score in milliseconds).
            scored = [await self.score_one(plans, row) for row in rows]
        for row_scores in scored:
            for fn_id, score in row_scores.items():
                per_fn[fn_id].append(score)
        return per_fn

    @staticmethod
    def results(plans: list[ScoringPlan], per_fn: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        return {
            plan.id: {"score_rows": per_fn[plan.id], "aggregated_results": aggregate(per_fn[plan.id], plan.aggregations)}
            for plan in plans
        }

