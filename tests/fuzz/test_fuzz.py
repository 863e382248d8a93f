"""Generated input, over REST (schemathesis, from the gateway's /v1/openapi.json) and over gRPC
(hypothesis, from the descriptor set), gets answers that say what was wrong with it: no 5xx, no
INTERNAL or UNKNOWN, no hang, errors in OpenAI's envelope; and the stack serves on after.

STACKMESH_FUZZ_EXAMPLES sets the examples per operation (CI size by default); bench/fuzz.py
runs the same fuzzers at a larger size.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from stackmesh_launcher.stack import LocalStack
from tests.conftest import REPO
from tests.fuzz import grpc_messages
from tests.fuzz.outcomes import Outcomes, examples
from tests.fuzz.rest import fuzz_rest
from tests.fuzz.seeds import seed_resources
from tests.fuzz.stack_checks import restarts, serving_problems

DESCRIPTOR = Path(os.environ.get("STACKMESH_DESCRIPTOR", REPO / "build" / "stackmesh.binpb"))
# Per operation (positive and negative each) and per gRPC method, sized for ~10,800 cases
# (~2,000 REST, ~8,900 gRPC) in about 1.5 minutes on two cores: a gRPC case costs the client
# little (the REST fuzzer's case generation is the bottleneck), so it gets 7x.
EXAMPLES = examples(8)
GRPC_EXAMPLES = 7 * EXAMPLES


@pytest.fixture(scope="module")
def restarts_before(stack: LocalStack) -> dict[str, int]:
    return restarts(stack)


@pytest.fixture(scope="module")
def grpc_fuzzing(stack: LocalStack, restarts_before: dict[str, int]) -> Iterator[Future[Outcomes]]:
    """The gRPC fuzzer in a child process, from the first test of the module on: it mostly
    waits on the services while the REST fuzzer mostly computes cases, so on two cores the
    pair takes about the time of the longer one."""
    addresses = {name: stack.service_address(name) for name in stack.config.services}
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool.submit(grpc_messages.run, addresses, DESCRIPTOR, GRPC_EXAMPLES)


@pytest.fixture(scope="module")
def openapi_document(stack: LocalStack) -> dict[str, Any]:
    response = httpx.get(f"{stack.gateway_url}/v1/openapi.json", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    return response.json()


def test_generated_rest_requests_get_no_5xx_and_errors_in_the_envelope(stack, grpc_fuzzing, openapi_document):
    """Schemathesis' positive cases for every operation of /v1/openapi.json, negative ones for
    those with a body or a query, and more positive ones for the routes naming a real file,
    vector store, conversation, agent, ..."""
    outcomes, started = Outcomes(), time.monotonic()
    seeds = seed_resources(stack.gateway_url)
    fuzz_rest(stack.gateway_url, openapi_document, EXAMPLES, outcomes, seeds=seeds)
    print(f"\nREST fuzzing, {time.monotonic() - started:.0f} s: {outcomes.report()}")
    assert outcomes.failure_count == 0, outcomes.report()


def test_generated_grpc_messages_get_no_internal_errors_or_hangs(grpc_fuzzing):
    """Hypothesis' messages, broken ones included, for every unary method of every service."""
    outcomes = grpc_fuzzing.result(timeout=600)
    print(f"\ngRPC fuzzing, {outcomes.seconds:.0f} s: {outcomes.report()}")
    assert outcomes.failure_count == 0, outcomes.report()


def test_the_stack_serves_after_fuzzing_with_no_crash(stack, grpc_fuzzing, restarts_before):
    """GET /v1/models and every service's health check still answer, and nothing restarted."""
    grpc_fuzzing.result(timeout=600)
    assert serving_problems(stack) == []
    assert restarts(stack) == restarts_before
