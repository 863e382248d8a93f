"""Tenant isolation of the post_training service behind the authenticating gateway: training
and synthetic data generation jobs of one tenant are invisible to another (404 exactly like a
missing id, left out of lists, no cursor), readable but not cancellable by a teammate, readable
by an admin; fine-tuning on another tenant's dataset, generating with its scoring function or
into its dataset fails; a generation job's dataset belongs to the job's owner."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import httpx
import pytest
from google.protobuf import json_format

from stackmesh.post_training.v1 import post_training_service_pb2 as pb
from stackmesh.post_training.v1 import post_training_service_pb2_grpc as pb_grpc
from stackmesh.synthetic_data.v1 import synthetic_data_service_pb2 as sdg_pb
from stackmesh.synthetic_data.v1 import synthetic_data_service_pb2_grpc as sdg_grpc
from tests.conftest import CHAT_MODEL
from tests.e2e.test_bad_input import error_of
from tests.e2e.test_isolation_eval import Tenants, assert_hidden, code_of, four_tenants, ok, register_function, unique
from tests.e2e.test_post_training import settle

DATASETS = "/v1beta/datasets"
ITERROWS = "/v1beta/datasetio/iterrows"
SFT = "/v1alpha/post-training/supervised-fine-tune"
DPO = "/v1alpha/post-training/preference-optimize"
JOBS = "/v1alpha/post-training/jobs"
SDG = "/v1/synthetic-data-generation"
DATASET_PARAM = "training_config.data_config.dataset_id"
CONVERSATIONS = [
    {"messages": [{"role": "user", "content": "What is the code of the blue door?"}, {"role": "assistant", "content": "It is 7341."}]},
    {"messages": [{"role": "user", "content": "What is the code of the red door?"}, {"role": "assistant", "content": "It is 2958."}]},
]
PREFERENCES = [{"prompt": "Greet me.", "chosen": "Hello, nice to meet you!", "rejected": "Whatever."}]


def register_dataset(api: httpx.Client, rows: list[dict], purpose: str) -> str:
    body = {"purpose": purpose, "source": {"type": "rows", "rows": rows}, "dataset_id": unique("iso-pt")}
    return ok(api.post(DATASETS, json=body))["identifier"]


def training_config(dataset_id: str) -> dict:
    return {
        "n_epochs": 1, "max_steps_per_epoch": 1, "gradient_accumulation_steps": 1,
        "data_config": {"dataset_id": dataset_id, "batch_size": 2, "shuffle": False, "data_format": "dialog"},
        "optimizer_config": {"optimizer_type": "adamw", "lr": 1e-4, "weight_decay": 0.0, "num_warmup_steps": 0},
    }  # fmt: skip


def sft_body(dataset_id: str) -> dict:
    return {
        "job_uuid": unique("iso-sft"),
        "model": CHAT_MODEL,
        "algorithm_config": {"type": "LoRA", "lora_attn_modules": ["q_proj"], "apply_lora_to_mlp": False, "apply_lora_to_output": False, "rank": 4, "alpha": 8},
        "training_config": training_config(dataset_id),
        "hyperparam_search_config": {},
        "logger_config": {},
    }


def dpo_body(dataset_id: str) -> dict:
    return {
        "job_uuid": unique("iso-dpo"),
        "finetuned_model": CHAT_MODEL,
        "algorithm_config": {"beta": 0.1, "loss_type": "sigmoid"},
        "training_config": training_config(dataset_id),
        "hyperparam_search_config": {},
        "logger_config": {},
    }


def generate_body(**overrides) -> dict:
    """One dialog, one four-token answer scored by a built-in: a generation job in a second."""
    body = {
        "dialogs": [{"role": "user", "content": "Say hi."}], "filtering_function": "none", "model": CHAT_MODEL,
        "num_candidates": 1, "max_tokens": 4, "scoring_function": "basic::subset_of", "dataset_id": unique("iso-sdg"),
    }  # fmt: skip
    return {**body, **overrides}


def finished(api: httpx.Client, job_id: str, timeout_s: float = 120) -> dict:
    """The generation job's last snapshot, followed over `…:watch` until it is over."""
    last = None
    with api.stream("GET", f"{SDG}/jobs/{job_id}:watch", timeout=httpx.Timeout(10, read=timeout_s)) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: "):
                last = json.loads(line.removeprefix("data: "))
    assert last is not None and last["id"] == job_id
    return last


@pytest.fixture(scope="module")
def tenants(stack, auth_gateway) -> Iterator[Tenants]:
    with four_tenants(stack, auth_gateway) as made:
        yield made


@dataclass
class World:
    """What the owner (alice, team red) made."""

    conversations: str
    preferences: str
    function: str
    # Submitted and cancelled at once: no training runs.
    training_job: str
    generation_job: str
    # Written by the generation job.
    generated: str


@pytest.fixture(scope="module")
def world(tenants: Tenants) -> World:
    api = tenants.owner.http
    conversations = register_dataset(api, CONVERSATIONS, "post-training/messages")
    preferences = register_dataset(api, PREFERENCES, "post-training/preference")
    body = sft_body(conversations)
    job_uuid = ok(api.post(SFT, json=body))["job_uuid"]
    ok(api.post(f"{JOBS}/{job_uuid}/cancel"))
    generate = generate_body()
    generation_job = ok(api.post(f"{SDG}/generate", json=generate))["job"]["id"]
    assert finished(api, generation_job)["state"] == "JOB_STATE_COMPLETED"
    assert settle(api, job_uuid, timeout_s=120)["status"] in ("cancelled", "completed")
    return World(conversations, preferences, register_function(api), job_uuid, generation_job, generate["dataset_id"])


# ---- training jobs ----------------------------------------------------------------------------


def test_another_tenant_cannot_fine_tune_on_a_dataset_it_cannot_see(tenants, world):
    api, missing = tenants.other.http, unique("iso-missing")
    for path, body, dataset_id in ((SFT, sft_body, world.conversations), (DPO, dpo_body, world.preferences)):
        refused, absent = api.post(path, json=body(dataset_id)), api.post(path, json=body(missing))
        assert_hidden(refused, absent, dataset_id, missing)
        assert error_of(refused)["param"] == DATASET_PARAM
    assert {j["job_uuid"] for j in ok(api.get(JOBS))["data"]} == set()


def test_another_tenant_cannot_see_list_cancel_or_watch_a_training_job(tenants, world):
    api, job, missing = tenants.other.http, world.training_job, unique("iso-missing")
    for suffix in ("status", "artifacts"):
        assert_hidden(api.get(f"{JOBS}/{job}/{suffix}"), api.get(f"{JOBS}/{missing}/{suffix}"), job, missing)
    assert_hidden(api.post(f"{JOBS}/{job}/cancel"), api.post(f"{JOBS}/{missing}/cancel"), job, missing)
    assert api.get(f"{JOBS}/{job}:watch").status_code == 404
    assert job not in {j["job_uuid"] for j in ok(api.get(JOBS))["data"]}
    # Job ids are global (as the job store has them): reusing one is refused, never a second job.
    own = register_dataset(api, CONVERSATIONS, "post-training/messages")
    taken = api.post(SFT, json={**sft_body(own), "job_uuid": job})
    assert taken.status_code == 409, taken.text


def test_a_teammate_reads_a_training_job_but_cannot_cancel_it(tenants, world):
    api, job = tenants.teammate.http, world.training_job
    assert ok(api.get(f"{JOBS}/{job}/status"))["job_uuid"] == job
    assert ok(api.get(f"{JOBS}/{job}/artifacts"))["job_uuid"] == job
    assert job in {j["job_uuid"] for j in ok(api.get(JOBS))["data"]}
    with api.stream("GET", f"{JOBS}/{job}:watch") as watched:
        assert watched.status_code == 200
        assert any(line.startswith("data: ") for line in watched.iter_lines())
    assert api.post(f"{JOBS}/{job}/cancel").status_code == 404


def test_an_admin_and_the_owner_read_the_training_job(tenants, world):
    for each in (tenants.admin, tenants.owner):
        assert ok(each.http.get(f"{JOBS}/{world.training_job}/status"))["job_uuid"] == world.training_job
        assert world.training_job in {j["job_uuid"] for j in ok(each.http.get(JOBS))["data"]}
    ok(tenants.owner.http.post(f"{JOBS}/{world.training_job}/cancel"))


# ---- synthetic data generation ----------------------------------------------------------------


def test_another_tenant_cannot_see_list_cancel_or_watch_a_generation_job(tenants, world):
    api, job, missing = tenants.other.http, world.generation_job, f"sdg-{uuid.uuid4().hex}"
    for suffix in ("", "/result"):
        assert_hidden(api.get(f"{SDG}/jobs/{job}{suffix}"), api.get(f"{SDG}/jobs/{missing}{suffix}"), job, missing)
    assert_hidden(api.post(f"{SDG}/jobs/{job}/cancel"), api.post(f"{SDG}/jobs/{missing}/cancel"), job, missing)
    assert api.get(f"{SDG}/jobs/{job}:watch").status_code == 404
    assert job not in {j["id"] for j in ok(api.get(f"{SDG}/jobs", params={"limit": 100}))["data"]}
    # Another tenant's job is no cursor either: the same 400 as an unknown one.
    hidden, unknown = api.get(f"{SDG}/jobs", params={"after": job}), api.get(f"{SDG}/jobs", params={"after": missing})
    assert hidden.status_code == 400, hidden.text
    assert error_of(hidden) == json.loads(json.dumps(error_of(unknown)).replace(missing, job))


def test_a_teammate_reads_a_generation_job_and_its_result_but_cannot_cancel_it(tenants, world):
    api, job = tenants.teammate.http, world.generation_job
    assert ok(api.get(f"{SDG}/jobs/{job}"))["id"] == job
    assert ok(api.get(f"{SDG}/jobs/{job}/result"))["statistics"]["dataset_id"] == world.generated
    assert job in {j["id"] for j in ok(api.get(f"{SDG}/jobs", params={"limit": 100}))["data"]}
    assert finished(api, job)["state"] == "JOB_STATE_COMPLETED"
    assert api.post(f"{SDG}/jobs/{job}/cancel").status_code == 404
    # A page after the owner's job is the teammate's to read as well.
    ok(api.get(f"{SDG}/jobs", params={"after": job}))


def test_an_admin_reads_every_generation_job(tenants, world):
    api = tenants.admin.http
    assert ok(api.get(f"{SDG}/jobs/{world.generation_job}"))["id"] == world.generation_job
    assert world.generation_job in {j["id"] for j in ok(api.get(f"{SDG}/jobs", params={"limit": 100}))["data"]}


def test_the_dataset_a_generation_job_writes_belongs_to_the_jobs_owner(tenants, world):
    ds = world.generated
    owner = ok(tenants.owner.http.get(f"{DATASETS}/{ds}"))
    assert owner["metadata"]["synthetic_data_job"] == world.generation_job
    assert ds in {d["identifier"] for d in ok(tenants.owner.http.get(DATASETS))["data"]}
    assert ok(tenants.teammate.http.get(f"{DATASETS}/{ds}"))["identifier"] == ds
    assert tenants.teammate.http.delete(f"{DATASETS}/{ds}").status_code == 404
    assert tenants.other.http.get(f"{DATASETS}/{ds}").status_code == 404
    assert tenants.other.http.get(f"{ITERROWS}/{ds}").status_code == 404
    assert ds not in {d["identifier"] for d in ok(tenants.other.http.get(DATASETS))["data"]}


def test_another_tenant_cannot_generate_with_a_scoring_function_it_cannot_see(tenants, world):
    api, missing = tenants.other.http, unique("iso::missing")
    refused = api.post(f"{SDG}/generate", json=generate_body(scoring_function=world.function))
    assert_hidden(refused, api.post(f"{SDG}/generate", json=generate_body(scoring_function=missing)), world.function, missing)
    assert error_of(refused)["param"] == "scoring_function"


def test_another_tenant_cannot_write_its_generation_into_someone_elses_dataset(tenants, world):
    before = ok(tenants.owner.http.get(f"{ITERROWS}/{world.generated}"))["data"]
    api = tenants.other.http
    job_id = ok(api.post(f"{SDG}/generate", json=generate_body(dataset_id=world.generated)))["job"]["id"]
    job = finished(api, job_id)
    assert job["state"] == "JOB_STATE_FAILED", job
    assert "registered by someone else" in job["error"]["message"]
    assert ok(tenants.owner.http.get(f"{ITERROWS}/{world.generated}"))["data"] == before
    assert tenants.owner.http.get(f"{SDG}/jobs/{job_id}").status_code == 404


# ---- gRPC -------------------------------------------------------------------------------------


def test_over_grpc_through_the_gateway_another_tenants_jobs_are_not_found(tenants, world, auth_gateway):
    with grpc.insecure_channel(auth_gateway.grpc_address) as channel:
        training, generation = pb_grpc.PostTrainingServiceStub(channel), sdg_grpc.SyntheticDataGenerationServiceStub(channel)
        job, sdg_job = world.training_job, world.generation_job

        def reads(md):
            return {
                "GetJobStatus": lambda: training.GetJobStatus(pb.GetJobStatusRequest(job_uuid=job), metadata=md, timeout=10),
                "GetJobArtifacts": lambda: training.GetJobArtifacts(pb.GetJobArtifactsRequest(job_uuid=job), metadata=md, timeout=10),
                "WatchJob": lambda: training.WatchJob(pb.WatchJobRequest(job_uuid=job), metadata=md, timeout=10),
                "GetGenerationJob": lambda: generation.GetGenerationJob(sdg_pb.GetGenerationJobRequest(job_id=sdg_job), metadata=md, timeout=10),
                "GetGenerationResult": lambda: generation.GetGenerationResult(sdg_pb.GetGenerationResultRequest(job_id=sdg_job), metadata=md, timeout=10),
                "WatchGenerationJob": lambda: generation.WatchGenerationJob(sdg_pb.WatchGenerationJobRequest(job_id=sdg_job), metadata=md, timeout=10),
            }

        def writes(md):
            sft = json_format.ParseDict(sft_body(world.conversations), pb.SupervisedFineTuneRequest())
            return {
                "CancelJob": lambda: training.CancelJob(pb.CancelJobRequest(job_uuid=job), metadata=md, timeout=10),
                "CancelGenerationJob": lambda: generation.CancelGenerationJob(sdg_pb.CancelGenerationJobRequest(job_id=sdg_job), metadata=md, timeout=10),
                "SupervisedFineTune": lambda: training.SupervisedFineTune(sft, metadata=md, timeout=30),
            }

        other = {name: code_of(call) for name, call in {**reads(tenants.other.metadata), **writes(tenants.other.metadata)}.items()}
        teammate = {name: code_of(call) for name, call in reads(tenants.teammate.metadata).items()}
        teammate_cancels = {name: code_of(writes(tenants.teammate.metadata)[name]) for name in ("CancelJob", "CancelGenerationJob")}
        listed = training.ListJobs(pb.ListJobsRequest(), metadata=tenants.other.metadata, timeout=10)
        generations = generation.ListGenerationJobs(sdg_pb.ListGenerationJobsRequest(limit=100), metadata=tenants.other.metadata, timeout=10)
    assert other == dict.fromkeys(other, grpc.StatusCode.NOT_FOUND)
    assert teammate == dict.fromkeys(teammate, grpc.StatusCode.OK)
    assert teammate_cancels == dict.fromkeys(teammate_cancels, grpc.StatusCode.NOT_FOUND)
    assert job not in {j.job_uuid for j in listed.data}
    assert sdg_job not in {j.id for j in generations.data}


def test_on_the_service_port_the_callers_principal_decides(stack, tenants, world):
    """The mesh-internal path: the principal and attributes headers the gateway would set."""
    with grpc.insecure_channel(stack.service_address("post_training")) as channel:
        training, generation = pb_grpc.PostTrainingServiceStub(channel), sdg_grpc.SyntheticDataGenerationServiceStub(channel)
        for who, expected in ((tenants.other, grpc.StatusCode.NOT_FOUND), (tenants.teammate, grpc.StatusCode.OK), (tenants.owner, grpc.StatusCode.OK)):
            got = code_of(lambda: training.GetJobStatus(pb.GetJobStatusRequest(job_uuid=world.training_job), metadata=who.internal, timeout=10))
            assert got == expected, who.principal
            got = code_of(lambda: generation.GetGenerationJob(sdg_pb.GetGenerationJobRequest(job_id=world.generation_job), metadata=who.internal, timeout=10))
            assert got == expected, who.principal
