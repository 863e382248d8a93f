"""Schemathesis over the gateway: every operation of /v1/openapi.json, positive and negative."""

from __future__ import annotations

import time
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.fuzz.outcomes import Outcomes, envelope_problem

# Generated values that would make a valid request run long (a model generating 2**31 tokens,
# a fine-tuning job of a million epochs): positive cases are clamped to these.
BOUNDS = {
    "max_tokens": 4,
    "max_completion_tokens": 4,
    "max_output_tokens": 16,  # the least a response takes
    "max_infer_iters": 1,
    "max_tool_calls": 1,
    "n": 1,
    "num_candidates": 1,
    "n_epochs": 1,
    "max_steps_per_epoch": 1,
    "max_validation_steps": 1,
    "gradient_accumulation_steps": 1,
    "batch_size": 1,
}
# Routes after the first one of a gRPC method get this fraction of its examples.
ALIAS_SHARE = 3
# Methods that run a model for as long as it likes once their path names a real resource
# (an agent turn, an evaluation): they get no cases aimed at the seeded resources.
GENERATING = ("/CreateTurn", "/StreamTurnSse", "/ResumeTurn", "/StreamResumeTurnSse", "/RunEval", "/EvaluateRows")


def _bound(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: min(item, BOUNDS[key]) if key in BOUNDS and isinstance(item, int) and not isinstance(item, bool) else _bound(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_bound(item) for item in value]
    return value


def _reproduce(case: schemathesis.Case, base_url: str) -> str:
    try:
        return case.as_curl_command(base_url=base_url)[:1000]
    except Exception:  # a case whose curl cannot be rendered still deserves its report
        return f"{case.method} {case.formatted_path} body={case.body!r:.300}"


def _route(case: schemathesis.Case) -> str:
    return f"{case.method} {case.operation.path}"


def _judge(case: schemathesis.Case, response: Any, base_url: str, outcomes: Outcomes) -> None:
    status = response.status_code
    if status >= 500:
        outcomes.fail(f"{status} from {_route(case)}", f"{_reproduce(case, base_url)}\n    {response.content[:300]!r}")
    elif status >= 400:
        problem = envelope_problem(response.content)
        if problem:
            outcomes.fail(f"{status} outside the error envelope from {_route(case)}", f"{problem}: {_reproduce(case, base_url)}")
    else:
        try:
            case.validate_response(response, checks=[content_type_conformance, response_schema_conformance])
        except FailureGroup as group:
            outcomes.fail(f"{status} not as documented from {_route(case)}", f"{str(group)[:600]}\n    {_reproduce(case, base_url)}")


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    examples: int,
    outcomes: Outcomes,
    session: requests.Session,
    timeout_s: float,
    path_parameters: dict[str, str] | None = None,
) -> None:
    fuzzer = f"rest {mode.value}" + (" (seeded ids)" if path_parameters else "")

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)
    @given(operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def send(case: schemathesis.Case) -> None:
        if mode is GenerationMode.POSITIVE and case.body is not None:
            case.body = _bound(case.body)
        started = time.monotonic()
        try:
            response = case.call(base_url=base_url, session=session, timeout=timeout_s)
        except requests.Timeout:
            outcomes.record(fuzzer, "timeout")
            outcomes.fail(f"no answer in {timeout_s:g} s (hang) from {_route(case)}", _reproduce(case, base_url))
            return
        except requests.RequestException as exc:
            outcomes.record(fuzzer, type(exc).__name__)
            outcomes.fail(f"{type(exc).__name__} from {_route(case)}", f"after {time.monotonic() - started:.1f} s: {exc}\n    {_reproduce(case, base_url)}")
            return
        outcomes.record(fuzzer, str(response.status_code))
        _judge(case, response, base_url, outcomes)

    try:
        send()
    except Unsatisfiable:
        # Nothing to get wrong: an operation without parameters or body has no negative cases.
        pass


def _negatable(operation: Any) -> bool:
    """Whether a request can break the document: not when it has only path parameters, which
    are strings anything fits (and schemathesis then drafts hundreds of cases to send none).
    The hostile tests try ids that are strange as URLs."""
    raw = operation.definition.raw
    return "requestBody" in raw or any(p["in"] == "query" for p in raw.get("parameters", []))


def _seeded(operation: Any, seeds: dict[str, str]) -> dict[str, str] | None:
    """The seeded ids for every path parameter of `operation`, if it has some and they all are;
    never for DELETE (the seeds must outlive the run) nor for GENERATING methods."""
    names = [p["name"] for p in operation.definition.raw.get("parameters", []) if p["in"] == "path"]
    method = operation.definition.raw.get("x-grpc-method", "")
    if not names or operation.method.upper() == "DELETE" or method.endswith(GENERATING) or not all(n in seeds for n in names):
        return None
    return {name: seeds[name] for name in names}


def fuzz_rest(
    base_url: str,
    document: dict[str, Any],
    examples: int,
    outcomes: Outcomes,
    negative_examples: int | None = None,
    timeout_s: float = 30.0,
    seeds: dict[str, str] | None = None,
) -> None:
    """Sends up to `examples` positive cases to every operation of `document`, up to
    `negative_examples` (as many by default) negative ones to those with a body or a query,
    and half as many positive ones again to the operations whose path parameters are all in
    `seeds` (name -> id of a real resource)."""
    schema = schemathesis.openapi.from_dict(document)
    budget = {GenerationMode.POSITIVE: examples, GenerationMode.NEGATIVE: examples if negative_examples is None else negative_examples}
    methods_seen: set[str] = set()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            try:
                operation = result.ok()
            except Exception as exc:  # an operation schemathesis cannot read is a bug of the document
                outcomes.fail("schemathesis cannot read an operation", str(exc))
                continue
            # Every binding of a method reaches the same servicer: the first gets the whole
            # budget, the others (/v1/openai/v1/..., /v1alpha/...) enough to try their route.
            method = operation.definition.raw.get("x-grpc-method")
            share = ALIAS_SHARE if method is not None and method in methods_seen else 1
            methods_seen.add(method)
            for mode, count in budget.items():
                if mode is GenerationMode.POSITIVE or _negatable(operation):
                    fuzz_operation(operation, mode, base_url, max(1, count // share), outcomes, session, timeout_s)
            seeded = _seeded(operation, seeds or {})
            if seeded:
                fuzz_operation(operation, GenerationMode.POSITIVE, base_url, max(1, examples // share // 2), outcomes, session, timeout_s, seeded)
