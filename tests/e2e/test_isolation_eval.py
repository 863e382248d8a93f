"""Tenant isolation of the eval service behind the authenticating gateway: datasets and their
rows, scoring functions, benchmarks and evaluation jobs of one tenant are invisible to another
(404 exactly like a missing id, left out of lists), readable but not changeable by a teammate,
readable by an admin; the distribution's seeded dataset and benchmark and the built-in
functions stay public; references to another tenant's dataset or function are 404s."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import httpx
import openai
import pytest

from stackmesh.eval.v1 import eval_service_pb2 as pb
from stackmesh.eval.v1 import eval_service_pb2_grpc as pb_grpc
from tests.e2e.test_bad_input import error_of
from tests.e2e.test_eval_jobs import settle
from tests.support.auth import create_key

DATASETS = "/v1beta/datasets"
ITERROWS = "/v1beta/datasetio/iterrows"
APPEND = "/v1beta/datasetio/append-rows"
FUNCTIONS = "/v1/scoring-functions"
SCORE = "/v1/scoring/score"
SCORE_BATCH = "/v1/scoring/score-batch"
BENCHMARKS = "/v1alpha/eval/benchmarks"
SEEDED = "stackmesh-basics"
# Scores answers already in the rows: no model runs.
DATASET_CANDIDATE = {"eval_candidate": {"type": "dataset"}}
ROWS = [
    {"question": "Capital of France?", "answer": "Paris", "generated_answer": "Paris"},
    {"question": "2 + 2?", "answer": "4", "generated_answer": "It is 4"},
    {"question": "Colour of the sky?", "answer": "blue", "generated_answer": "green"},
]


@dataclass
class Tenant:
    """A caller with an API key: REST through the auth gateway, and its gRPC metadata."""

    principal: str
    http: httpx.Client
    metadata: tuple[tuple[str, str], ...]
    # What the gateway would send a service for this caller (the mesh-internal path).
    internal: tuple[tuple[str, str], ...]


def tenant(stack, gateway, name: str, **attributes: str | list[str]) -> Tenant:
    principal = f"{name}-{uuid.uuid4().hex[:8]}"
    secret = create_key(stack, principal, **attributes)
    values = {k: [v] if isinstance(v, str) else v for k, v in attributes.items()}
    return Tenant(
        principal,
        httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {secret}"}, timeout=60),
        (("authorization", f"Bearer {secret}"),),
        (("x-stackmesh-principal", principal), ("x-stackmesh-attributes", json.dumps(values))),
    )


@dataclass
class Tenants:
    owner: Tenant  # team red
    teammate: Tenant  # team red too
    other: Tenant  # team blue
    admin: Tenant  # roles admin, a team of its own


@contextlib.contextmanager
def four_tenants(stack, gateway) -> Iterator[Tenants]:
    made = Tenants(
        tenant(stack, gateway, "alice", team="red"),
        tenant(stack, gateway, "carol", team="red"),
        tenant(stack, gateway, "bob", team="blue"),
        tenant(stack, gateway, "root", team="ops", roles=["admin"]),
    )
    try:
        yield made
    finally:
        for each in (made.owner, made.teammate, made.other, made.admin):
            each.http.close()


@pytest.fixture(scope="module")
def tenants(stack, auth_gateway) -> Iterator[Tenants]:
    with four_tenants(stack, auth_gateway) as made:
        yield made


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def assert_hidden(response: httpx.Response, missing: httpx.Response, hidden_id: str, missing_id: str) -> None:
    """A 404 for another tenant's resource, the same (but for the id) as for a missing one."""
    assert response.status_code == 404, response.text
    assert missing.status_code == 404, missing.text
    assert error_of(response) == json.loads(json.dumps(error_of(missing)).replace(missing_id, hidden_id))


def ids(response: httpx.Response, key: str = "identifier") -> set[str]:
    return {item[key] for item in ok(response)["data"]}


def register_dataset(api: httpx.Client, rows: list[dict] = ROWS) -> str:
    body = {"purpose": "eval/question-answer", "source": {"type": "rows", "rows": rows}, "dataset_id": unique("iso-ds")}
    return ok(api.post(DATASETS, json=body))["identifier"]


def register_function(api: httpx.Client) -> str:
    fn_id = unique("iso::grade")
    params = {"type": "regex_parser", "parsing_regexes": [r"Grade: (\w+)"]}
    ok(api.post(FUNCTIONS, json={"scoring_fn_id": fn_id, "description": "grades", "return_type": {"type": "number"}, "params": params}))
    return fn_id


def register_benchmark(api: httpx.Client, dataset_id: str, functions: list[str]) -> str:
    benchmark_id = unique("iso-bench")
    ok(api.post(BENCHMARKS, json={"benchmark_id": benchmark_id, "dataset_id": dataset_id, "scoring_functions": functions}))
    return benchmark_id


def run_job(api: httpx.Client, benchmark_id: str, **config) -> str:
    return ok(api.post(f"{BENCHMARKS}/{benchmark_id}/jobs", json={"benchmark_config": {**DATASET_CANDIDATE, **config}}))["job_id"]


@dataclass
class World:
    """What the owner (alice, team red) made."""

    dataset: str
    function: str
    benchmark: str
    # On the owner's benchmark, and on the seeded one (visible to everyone).
    job: str
    seeded_job: str


@pytest.fixture(scope="module")
def world(tenants) -> World:
    api = tenants.owner.http
    dataset_id = register_dataset(api)
    fn_id = register_function(api)
    benchmark_id = register_benchmark(api, dataset_id, ["basic::equality"])
    job_id = run_job(api, benchmark_id)
    seeded_job = run_job(api, SEEDED, num_examples=1)
    assert settle(api, benchmark_id, job_id, timeout_s=60)["status"] == "completed"
    assert settle(api, SEEDED, seeded_job, timeout_s=60)["status"] in ("completed", "failed")
    return World(dataset_id, fn_id, benchmark_id, job_id, seeded_job)


# ---- datasets ---------------------------------------------------------------------------------


def test_another_tenant_cannot_see_list_read_append_or_delete_a_dataset(tenants, world):
    api, ds, missing = tenants.other.http, world.dataset, unique("iso-missing")
    assert_hidden(api.get(f"{DATASETS}/{ds}"), api.get(f"{DATASETS}/{missing}"), ds, missing)
    assert ds not in ids(api.get(DATASETS))
    assert_hidden(api.get(f"{ITERROWS}/{ds}"), api.get(f"{ITERROWS}/{missing}"), ds, missing)
    row = {"rows": [{"question": "q", "answer": "a"}]}
    assert_hidden(api.post(f"{APPEND}/{ds}", json=row), api.post(f"{APPEND}/{missing}", json=row), ds, missing)
    assert_hidden(api.delete(f"{DATASETS}/{ds}"), api.delete(f"{DATASETS}/{missing}"), ds, missing)
    # Nothing changed for the owner.
    assert ok(tenants.owner.http.get(f"{ITERROWS}/{ds}"))["data"] == ROWS


def test_another_tenants_dataset_cannot_be_scored_or_benchmarked(tenants, world):
    api, ds, missing = tenants.other.http, world.dataset, unique("iso-missing")

    def batch(dataset_id: str) -> httpx.Response:
        return api.post(SCORE_BATCH, json={"dataset_id": dataset_id, "scoring_functions": {"basic::equality": None}, "save_results_dataset": True})

    assert_hidden(batch(ds), batch(missing), ds, missing)

    def bench(dataset_id: str) -> httpx.Response:
        return api.post(BENCHMARKS, json={"benchmark_id": unique("iso-bench"), "dataset_id": dataset_id, "scoring_functions": ["basic::equality"]})

    assert_hidden(bench(ds), bench(missing), ds, missing)


def test_a_teammate_reads_a_dataset_but_cannot_change_or_delete_it(tenants, world):
    api, ds = tenants.teammate.http, world.dataset
    assert ok(api.get(f"{DATASETS}/{ds}"))["identifier"] == ds
    assert ds in ids(api.get(DATASETS))
    assert ok(api.get(f"{ITERROWS}/{ds}"))["data"] == ROWS
    scored = ok(api.post(SCORE_BATCH, json={"dataset_id": ds, "scoring_functions": {"basic::equality": None}, "save_results_dataset": False}))
    assert [r["score"] for r in scored["results"]["basic::equality"]["score_rows"]] == [1.0, 0.0, 0.0]
    assert api.post(f"{APPEND}/{ds}", json={"rows": [{"question": "q", "answer": "a"}]}).status_code == 404
    assert api.delete(f"{DATASETS}/{ds}").status_code == 404
    assert len(ok(tenants.owner.http.get(f"{ITERROWS}/{ds}"))["data"]) == len(ROWS)


def test_an_admin_reads_every_tenants_dataset(tenants, world):
    api, ds = tenants.admin.http, world.dataset
    assert ok(api.get(f"{DATASETS}/{ds}"))["identifier"] == ds
    assert ds in ids(api.get(DATASETS))
    assert ok(api.get(f"{ITERROWS}/{ds}"))["data"] == ROWS


def test_the_owner_appends_to_and_deletes_its_dataset(tenants):
    api = tenants.owner.http
    ds = register_dataset(api)
    assert ds in ids(api.get(DATASETS))
    ok(api.post(f"{APPEND}/{ds}", json={"rows": [{"question": "q", "answer": "a"}]}))
    assert len(ok(api.get(f"{ITERROWS}/{ds}"))["data"]) == len(ROWS) + 1
    ok(api.delete(f"{DATASETS}/{ds}"))
    assert api.get(f"{DATASETS}/{ds}").status_code == 404


def test_the_seeded_dataset_stays_public_to_read_and_closed_to_change(tenants):
    for each in (tenants.owner, tenants.other):
        api = each.http
        assert ok(api.get(f"{DATASETS}/{SEEDED}"))["identifier"] == SEEDED
        assert SEEDED in ids(api.get(DATASETS))
        assert len(ok(api.get(f"{ITERROWS}/{SEEDED}"))["data"]) == 24
        assert api.post(f"{APPEND}/{SEEDED}", json={"rows": [{"question": "q", "answer": "a"}]}).status_code == 404
        assert api.delete(f"{DATASETS}/{SEEDED}").status_code == 404
    assert len(ok(tenants.owner.http.get(f"{ITERROWS}/{SEEDED}"))["data"]) == 24


def test_saved_score_results_belong_to_the_caller(tenants, world):
    """save_results_dataset writes a dataset owned by whoever scored: here the teammate."""
    scored = ok(tenants.teammate.http.post(
        SCORE_BATCH, json={"dataset_id": world.dataset, "scoring_functions": {"basic::subset_of": None}, "save_results_dataset": True}
    ))
    saved = scored["dataset_id"]
    assert saved in ids(tenants.teammate.http.get(DATASETS))
    assert ok(tenants.owner.http.get(f"{DATASETS}/{saved}"))["metadata"]["scored_from"] == world.dataset  # same team
    assert tenants.other.http.get(f"{DATASETS}/{saved}").status_code == 404
    assert saved not in ids(tenants.other.http.get(DATASETS))
    assert tenants.owner.http.delete(f"{DATASETS}/{saved}").status_code == 404  # not the owner's
    ok(tenants.teammate.http.delete(f"{DATASETS}/{saved}"))


def test_a_dataset_cannot_be_registered_from_another_tenants_file(tenants, auth_gateway):
    secret = tenants.owner.http.headers["authorization"].removeprefix("Bearer ")
    files = openai.OpenAI(base_url=f"{auth_gateway.url}/v1", api_key=secret, max_retries=0)
    uploaded = files.files.create(file=("rows.jsonl", io.BytesIO(b'{"question": "q", "answer": "a"}\n')), purpose="assistants")

    def register(api: httpx.Client) -> httpx.Response:
        return api.post(DATASETS, json={"purpose": "eval/question-answer", "source": {"type": "uri", "uri": uploaded.id}})

    refused = register(tenants.other.http)
    assert refused.status_code == 404, refused.text
    assert error_of(refused)["param"] == "source.uri"
    ok(register(tenants.owner.http))


# ---- scoring functions ------------------------------------------------------------------------


def test_another_tenant_cannot_see_use_or_unregister_a_scoring_function(tenants, world):
    api, fn, missing = tenants.other.http, world.function, unique("iso::missing")
    assert_hidden(api.get(f"{FUNCTIONS}/{fn}"), api.get(f"{FUNCTIONS}/{missing}"), fn, missing)
    listed = ids(api.get(FUNCTIONS))
    assert fn not in listed and "basic::equality" in listed  # the built-ins stay public
    assert_hidden(api.delete(f"{FUNCTIONS}/{fn}"), api.delete(f"{FUNCTIONS}/{missing}"), fn, missing)

    def score(fn_id: str) -> httpx.Response:
        return api.post(SCORE, json={"input_rows": [{"expected_answer": "pass", "generated_answer": "Grade: pass"}], "scoring_functions": {fn_id: None}})

    assert_hidden(score(fn), score(missing), fn, missing)

    def bench(fn_id: str) -> httpx.Response:
        return api.post(BENCHMARKS, json={"benchmark_id": unique("iso-bench"), "dataset_id": SEEDED, "scoring_functions": [fn_id]})

    assert_hidden(bench(fn), bench(missing), fn, missing)

    def evaluate(fn_id: str) -> httpx.Response:
        body = {"input_rows": [{"question": "q", "answer": "a", "generated_answer": "a"}], "scoring_functions": [fn_id], "benchmark_config": DATASET_CANDIDATE}
        return api.post(f"{BENCHMARKS}/{SEEDED}/evaluations", json=body)

    assert_hidden(evaluate(fn), evaluate(missing), fn, missing)
    assert ok(tenants.owner.http.get(f"{FUNCTIONS}/{fn}"))["identifier"] == fn


def test_a_teammate_uses_a_scoring_function_but_cannot_unregister_it(tenants, world):
    api, fn = tenants.teammate.http, world.function
    assert ok(api.get(f"{FUNCTIONS}/{fn}"))["identifier"] == fn
    assert fn in ids(api.get(FUNCTIONS))
    scored = ok(api.post(SCORE, json={"input_rows": [{"expected_answer": "pass", "generated_answer": "Grade: pass"}], "scoring_functions": {fn: None}}))
    assert scored["results"][fn]["score_rows"][0]["score"] == 1.0
    assert api.delete(f"{FUNCTIONS}/{fn}").status_code == 404
    assert fn in ids(tenants.admin.http.get(FUNCTIONS))
    assert ok(tenants.admin.http.get(f"{FUNCTIONS}/{fn}"))["identifier"] == fn


# ---- benchmarks and evaluation jobs -----------------------------------------------------------


def test_another_tenant_cannot_see_run_or_unregister_a_benchmark(tenants, world):
    api, bench, missing = tenants.other.http, world.benchmark, unique("iso-missing")
    assert_hidden(api.get(f"{BENCHMARKS}/{bench}"), api.get(f"{BENCHMARKS}/{missing}"), bench, missing)
    listed = ids(api.get(BENCHMARKS))
    assert bench not in listed and SEEDED in listed
    assert_hidden(api.delete(f"{BENCHMARKS}/{bench}"), api.delete(f"{BENCHMARKS}/{missing}"), bench, missing)
    body = {"benchmark_config": DATASET_CANDIDATE}
    assert_hidden(api.post(f"{BENCHMARKS}/{bench}/jobs", json=body), api.post(f"{BENCHMARKS}/{missing}/jobs", json=body), bench, missing)
    assert_hidden(api.get(f"{BENCHMARKS}/{bench}/jobs"), api.get(f"{BENCHMARKS}/{missing}/jobs"), bench, missing)
    rows = {"input_rows": [{"question": "q", "answer": "a", "generated_answer": "a"}], "benchmark_config": DATASET_CANDIDATE}
    assert_hidden(
        api.post(f"{BENCHMARKS}/{bench}/evaluations", json=rows), api.post(f"{BENCHMARKS}/{missing}/evaluations", json=rows), bench, missing
    )


def test_a_teammate_reads_and_runs_a_benchmark_but_cannot_unregister_it(tenants, world):
    api, bench = tenants.teammate.http, world.benchmark
    assert ok(api.get(f"{BENCHMARKS}/{bench}"))["dataset_id"] == world.dataset
    assert bench in ids(api.get(BENCHMARKS))
    assert api.delete(f"{BENCHMARKS}/{bench}").status_code == 404
    rows = {"input_rows": [{"question": "q", "answer": "a", "generated_answer": "a"}], "benchmark_config": DATASET_CANDIDATE}
    assert ok(api.post(f"{BENCHMARKS}/{bench}/evaluations", json=rows))["scores"]["basic::equality"]["score_rows"][0]["score"] == 1.0
    assert ok(tenants.admin.http.get(f"{BENCHMARKS}/{bench}"))["identifier"] == bench


@pytest.mark.parametrize("on_seeded", [False, True], ids=["owners-benchmark", "seeded-benchmark"])
def test_another_tenant_cannot_see_list_cancel_or_watch_an_eval_job(tenants, world, on_seeded):
    api = tenants.other.http
    bench, job = (SEEDED, world.seeded_job) if on_seeded else (world.benchmark, world.job)
    missing = f"eval-{uuid.uuid4().hex}"
    base = f"{BENCHMARKS}/{bench}/jobs"
    for suffix in ("", "/result"):
        assert_hidden(api.get(f"{base}/{job}{suffix}"), api.get(f"{base}/{missing}{suffix}"), job, missing)
    assert_hidden(api.delete(f"{base}/{job}"), api.delete(f"{base}/{missing}"), job, missing)
    assert api.get(f"{base}/{job}:watch").status_code == 404
    if on_seeded:
        # The benchmark is everyone's; its jobs are their owners'.
        assert job not in ids(api.get(base), "job_id")
        assert job in ids(tenants.owner.http.get(base), "job_id")


def test_a_teammate_reads_an_eval_job_and_its_result_but_cannot_cancel_it(tenants, world):
    api, base = tenants.teammate.http, f"{BENCHMARKS}/{world.benchmark}/jobs"
    assert ok(api.get(f"{base}/{world.job}"))["status"] == "completed"
    assert world.job in ids(api.get(base), "job_id")
    result = ok(api.get(f"{base}/{world.job}/result"))
    assert [r["score"] for r in result["scores"]["basic::equality"]["score_rows"]] == [1.0, 0.0, 0.0]
    with api.stream("GET", f"{base}/{world.job}:watch") as watched:
        assert watched.status_code == 200
        assert any(line.startswith("data: ") for line in watched.iter_lines())
    assert api.delete(f"{base}/{world.job}").status_code == 404
    seeded = f"{BENCHMARKS}/{SEEDED}/jobs"
    assert world.seeded_job in ids(api.get(seeded), "job_id")


def test_an_admin_reads_every_eval_job(tenants, world):
    api = tenants.admin.http
    assert ok(api.get(f"{BENCHMARKS}/{world.benchmark}/jobs/{world.job}"))["job_id"] == world.job
    assert world.seeded_job in ids(api.get(f"{BENCHMARKS}/{SEEDED}/jobs"), "job_id")


def test_the_owner_cancels_its_job_and_unregisters_what_it_made(tenants):
    api = tenants.owner.http
    ds = register_dataset(api)
    fn = register_function(api)
    bench = register_benchmark(api, ds, ["basic::subset_of"])
    job = run_job(api, bench)
    ok(api.delete(f"{BENCHMARKS}/{bench}/jobs/{job}"))
    assert settle(api, bench, job, timeout_s=60)["status"] in ("completed", "cancelled")
    assert job in ids(api.get(f"{BENCHMARKS}/{bench}/jobs"), "job_id")
    for path in (f"{BENCHMARKS}/{bench}", f"{FUNCTIONS}/{fn}", f"{DATASETS}/{ds}"):
        ok(api.delete(path))
        assert api.get(path).status_code == 404


# ---- gRPC -------------------------------------------------------------------------------------


def code_of(call) -> grpc.StatusCode:
    try:
        result = call()
        if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
            list(result)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_over_grpc_through_the_gateway_another_tenants_resources_are_not_found(tenants, world, auth_gateway):
    with grpc.insecure_channel(auth_gateway.grpc_address) as channel:
        datasets, rows = pb_grpc.DatasetsServiceStub(channel), pb_grpc.DatasetIOServiceStub(channel)
        functions, benchmarks = pb_grpc.ScoringFunctionsServiceStub(channel), pb_grpc.BenchmarksServiceStub(channel)
        scoring, evals = pb_grpc.ScoringServiceStub(channel), pb_grpc.EvalServiceStub(channel)
        job = pb.GetEvalJobRequest(benchmark_id=world.benchmark, job_id=world.job)

        def calls(md):
            return {
                "GetDataset": lambda: datasets.GetDataset(pb.GetDatasetRequest(dataset_id=world.dataset), metadata=md, timeout=10),
                "IterRows": lambda: rows.IterRows(pb.IterRowsRequest(dataset_id=world.dataset), metadata=md, timeout=10),
                "GetScoringFunction": lambda: functions.GetScoringFunction(pb.GetScoringFunctionRequest(scoring_fn_id=world.function), metadata=md, timeout=10),
                "GetBenchmark": lambda: benchmarks.GetBenchmark(pb.GetBenchmarkRequest(benchmark_id=world.benchmark), metadata=md, timeout=10),
                "ScoreBatch": lambda: scoring.ScoreBatch(
                    pb.ScoreBatchRequest(dataset_id=world.dataset, scoring_functions={"basic::equality": None}), metadata=md, timeout=10
                ),
                "GetEvalJob": lambda: evals.GetEvalJob(job, metadata=md, timeout=10),
                "GetEvalJobResult": lambda: evals.GetEvalJobResult(pb.GetEvalJobResultRequest(benchmark_id=world.benchmark, job_id=world.job), metadata=md, timeout=10),
                "WatchEvalJob": lambda: evals.WatchEvalJob(pb.WatchEvalJobRequest(benchmark_id=world.benchmark, job_id=world.job), metadata=md, timeout=10),
            }

        other = {name: code_of(call) for name, call in calls(tenants.other.metadata).items()}
        teammate = {name: code_of(call) for name, call in calls(tenants.teammate.metadata).items()}
        listed = datasets.ListDatasets(pb.ListDatasetsRequest(), metadata=tenants.other.metadata, timeout=10)
        writes = {
            "UnregisterDataset": lambda md: datasets.UnregisterDataset(pb.UnregisterDatasetRequest(dataset_id=world.dataset), metadata=md, timeout=10),
            "AppendRows": lambda md: rows.AppendRows(pb.AppendRowsRequest(dataset_id=world.dataset, rows=[{"question": "q", "answer": "a"}]), metadata=md, timeout=10),
            "UnregisterScoringFunction": lambda md: functions.UnregisterScoringFunction(
                pb.UnregisterScoringFunctionRequest(scoring_fn_id=world.function), metadata=md, timeout=10
            ),
            "UnregisterBenchmark": lambda md: benchmarks.UnregisterBenchmark(pb.UnregisterBenchmarkRequest(benchmark_id=world.benchmark), metadata=md, timeout=10),
            "CancelEvalJob": lambda md: evals.CancelEvalJob(pb.CancelEvalJobRequest(benchmark_id=world.benchmark, job_id=world.job), metadata=md, timeout=10),
        }
        refused = {
            (who.principal, name): code_of(lambda: call(who.metadata)) for who in (tenants.other, tenants.teammate) for name, call in writes.items()
        }
    assert other == dict.fromkeys(other, grpc.StatusCode.NOT_FOUND)
    assert teammate == dict.fromkeys(teammate, grpc.StatusCode.OK)
    assert world.dataset not in {d.identifier for d in listed.data} and SEEDED in {d.identifier for d in listed.data}
    assert refused == dict.fromkeys(refused, grpc.StatusCode.NOT_FOUND)
    assert ok(tenants.owner.http.get(f"{BENCHMARKS}/{world.benchmark}"))["dataset_id"] == world.dataset


def test_on_the_service_port_the_callers_principal_decides(stack, tenants, world):
    """The mesh-internal path: the principal and attributes headers the gateway would set."""
    with grpc.insecure_channel(stack.service_address("eval")) as channel:
        datasets, evals = pb_grpc.DatasetsServiceStub(channel), pb_grpc.EvalServiceStub(channel)
        job = pb.GetEvalJobRequest(benchmark_id=world.benchmark, job_id=world.job)
        for who, expected in ((tenants.other, grpc.StatusCode.NOT_FOUND), (tenants.teammate, grpc.StatusCode.OK), (tenants.owner, grpc.StatusCode.OK)):
            got = code_of(lambda: datasets.GetDataset(pb.GetDatasetRequest(dataset_id=world.dataset), metadata=who.internal, timeout=10))
            assert got == expected, who.principal
            assert code_of(lambda: evals.GetEvalJob(job, metadata=who.internal, timeout=10)) == expected, who.principal
        listed = datasets.ListDatasets(pb.ListDatasetsRequest(), metadata=tenants.other.internal, timeout=10)
        assert world.dataset not in {d.identifier for d in listed.data}
