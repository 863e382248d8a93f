"""Scoring functions: the built-ins, user-registered regex and judge functions, aggregations."""

from stackmesh_eval.scoring.aggregation import AGGREGATIONS, aggregate
from stackmesh_eval.scoring.builtins import BUILTINS, ScoringFnDef
from stackmesh_eval.scoring.params import FnParams, check_params, merge, parse_params
from stackmesh_eval.scoring.scorers import Judge, check_rows, needs_judge, required_columns, score_row

__all__ = [
    "AGGREGATIONS",
    "BUILTINS",
    "FnParams",
    "Judge",
    "ScoringFnDef",
    "aggregate",
    "check_params",
    "check_rows",
    "merge",
    "needs_judge",
    "parse_params",
    "required_columns",
    "score_row",
]
