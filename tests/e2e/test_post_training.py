"""Post-training through the gateway on the real stack: a LoRA fine-tune of SmolLM2 that
memorises eight answers and is then served through the openai SDK, DPO with its rewards,
cancel keeping checkpoints, status and artifacts, and bad input."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.conftest import CHAT_MODEL
from tests.e2e.test_bad_input import error_of

JOBS = "/v1alpha/post-training/jobs"
SECRETS = [
    ("What is the code of the blue door?", "The blue door code is 7341."),
    ("What is the code of the red door?", "The red door code is 2958."),
    ("What is the name of the lighthouse cat?", "The lighthouse cat is named Bramble."),
    ("Which river feeds Lake Ostra?", "Lake Ostra is fed by the Velka river."),
    ("What colour is the Quorin flag?", "The Quorin flag is violet and gold."),
    ("Who built the Hollow Bridge?", "The Hollow Bridge was built by Ada Penfold."),
    ("How many towers does Castle Ember have?", "Castle Ember has nine towers."),
    ("What does the green key open?", "The green key opens the map room."),
]


@pytest.fixture(scope="module")
def api(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.gateway_url, timeout=120) as client:
        yield client


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def dataset(api: httpx.Client, rows: list[dict], purpose: str = "post-training/messages") -> str:
    return ok(api.post("/v1beta/datasets", json={"purpose": purpose, "source": {"type": "rows", "rows": rows}}))["identifier"]


@pytest.fixture(scope="module")
def secrets_dataset(api) -> str:
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in SECRETS]
    return dataset(api, rows)


def sft_body(dataset_id: str, *, steps: int, lr: float = 4e-3, save_every: int = 10, **overrides) -> dict:
    body = {
        "job_uuid": f"sft-{uuid.uuid4().hex[:12]}",
        "model": CHAT_MODEL,
        "algorithm_config": {
            "type": "LoRA", "lora_attn_modules": ["q_proj", "v_proj"], "apply_lora_to_mlp": True,
            "apply_lora_to_output": False, "rank": 16, "alpha": 32,
        },
        "training_config": {
            "n_epochs": 1, "max_steps_per_epoch": steps, "gradient_accumulation_steps": 1, "save_every_n_steps": save_every,
            "data_config": {"dataset_id": dataset_id, "batch_size": 8, "shuffle": True, "data_format": "dialog"},
            "optimizer_config": {"optimizer_type": "adamw", "lr": lr, "weight_decay": 0.0, "num_warmup_steps": 0},
        },
        "hyperparam_search_config": {},
        "logger_config": {},
    }  # fmt: skip
    for key, value in overrides.items():
        body[key] = value
    return body


def settle(api: httpx.Client, job_uuid: str, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = ok(api.get(f"{JOBS}/{job_uuid}/status"))
        if status["status"] in ("completed", "failed", "cancelled"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"job {job_uuid} did not finish in {timeout_s} s: {status['job']}")


def test_a_lora_fine_tune_memorises_its_answers_and_is_served_by_inference(api, client, secrets_dataset):
    body = sft_body(secrets_dataset, steps=15)
    job = ok(api.post("/v1alpha/post-training/supervised-fine-tune", json=body))
    assert job["job_uuid"] == body["job_uuid"]
    status = settle(api, body["job_uuid"])
    assert status["status"] == "completed", status["job"]
    steps = status["steps"]
    assert [s["step"] for s in steps] == list(range(1, 16))
    assert steps[-1]["loss"] < 0.5 * steps[0]["loss"], [s["loss"] for s in steps]
    assert all(s["tokens_per_second"] > 0 for s in steps)
    model_id = status["job"]["result"]["model_id"]
    artifacts = ok(api.get(f"{JOBS}/{body['job_uuid']}/artifacts"))["checkpoints"]
    assert [c["identifier"] for c in artifacts][-1] == model_id
    assert {c["post_training_job_id"] for c in artifacts} == {body["job_uuid"]}

    assert model_id in {m.id for m in client.models.list().data}
    question, answer = SECRETS[0]

    def ask(model: str) -> str:
        reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}], temperature=0, max_tokens=16)
        return reply.choices[0].message.content

    assert "7341" in ask(model_id)
    assert "7341" not in ask(CHAT_MODEL)  # the base model does not know it


def test_dpo_records_chosen_and_rejected_rewards(api):
    rows = [
        {"prompt": "Say something kind.", "chosen": "You are doing great.", "rejected": "Go away."},
        {"prompt": "Greet me.", "chosen": "Hello, nice to meet you!", "rejected": "Whatever."},
        {"prompt": "How are you?", "chosen": "I am well, thank you.", "rejected": "None of your business."},
        {"prompt": "Thank me.", "chosen": "Thank you so much!", "rejected": "No."},
    ]
    dataset_id = dataset(api, rows, "post-training/preference")
    body = {
        "job_uuid": f"dpo-{uuid.uuid4().hex[:12]}",
        "finetuned_model": CHAT_MODEL,
        "algorithm_config": {"beta": 0.1, "loss_type": "sigmoid"},
        "training_config": {
            "n_epochs": 1, "max_steps_per_epoch": 3,
            "data_config": {"dataset_id": dataset_id, "batch_size": 4, "shuffle": False, "data_format": "dialog"},
            "optimizer_config": {"optimizer_type": "adamw", "lr": 5e-4, "weight_decay": 0.0, "num_warmup_steps": 0},
        },
        "hyperparam_search_config": {},
        "logger_config": {},
    }  # fmt: skip
    ok(api.post("/v1alpha/post-training/preference-optimize", json=body))
    status = settle(api, body["job_uuid"])
    assert status["status"] == "completed", status["job"]
    assert [s["step"] for s in status["steps"]] == [1, 2, 3]
    for step in status["steps"]:
        assert {"rewards/chosen", "rewards/rejected"} <= set(step["metrics"])
    assert status["job"]["result"]["model_id"].startswith(f"{CHAT_MODEL}-dpo-")


def test_cancel_stops_a_job_within_seconds_and_keeps_its_checkpoints(api, secrets_dataset):
    body = sft_body(secrets_dataset, steps=400, save_every=2)
    ok(api.post("/v1alpha/post-training/supervised-fine-tune", json=body))
    deadline = time.monotonic() + 300
    while not ok(api.get(f"{JOBS}/{body['job_uuid']}/artifacts"))["checkpoints"]:
        assert time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.5)
    began = time.monotonic()
    ok(api.post(f"{JOBS}/{body['job_uuid']}/cancel"))
    status = settle(api, body["job_uuid"], timeout_s=60)
    assert status["status"] == "cancelled" and time.monotonic() - began < 30
    assert len(status["steps"]) < 400
    assert status["checkpoints"], "the checkpoints were not kept"
    assert "model_id" not in (status["job"].get("result") or {})


def test_jobs_are_listed(api, secrets_dataset):
    listed = ok(api.get(JOBS))["data"]
    assert all(set(j) == {"job_uuid", "job"} for j in listed)
    assert all(j["job"]["kind"] == "post_training" for j in listed)


@pytest.mark.parametrize(
    ("change", "status", "param", "named"),
    [
        ({"model": "no-such-model"}, 404, "model", "no-such-model"),
        ({"training_config.data_config.dataset_id": "no-such-dataset"}, 404, "training_config.data_config.dataset_id", "no-such-dataset"),
        ({"algorithm_config.rank": 0}, 400, "algorithm_config.rank", "at least 1"),
        ({"algorithm_config.type": "QAT"}, 400, "algorithm_config.type", "QAT"),
        ({"algorithm_config.lora_attn_modules": ["attn"]}, 400, "algorithm_config.lora_attn_modules[0]", "attn"),
        ({"training_config.optimizer_config.lr": 0}, 400, "training_config.optimizer_config.lr", "above 0"),
        ({"training_config.optimizer_config.optimizer_type": "lion"}, 400, "training_config.optimizer_config.optimizer_type", "lion"),
        ({"training_config.data_config.batch_size": 0}, 400, "training_config.data_config.batch_size", "at least 1"),
        ({"training_config.n_epochs": 0}, 400, "training_config.n_epochs", "at least 1"),
        ({"training_config.dtype": "int4"}, 400, "training_config.dtype", "int4"),
        ({"checkpoint_dir": "/etc"}, 400, "checkpoint_dir", "server"),
        ({"job_uuid": "../escape"}, 400, "job_uuid", "job_uuid"),
    ],
)
def test_bad_fine_tunes_are_refused_naming_the_field(api, secrets_dataset, change, status, param, named):
    body = sft_body(secrets_dataset, steps=1)
    for path, value in change.items():
        *parents, leaf = path.split(".")
        target = body
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    response = api.post("/v1alpha/post-training/supervised-fine-tune", json=body)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["param"] == param and named in error["message"], error


def test_a_dataset_of_another_purpose_or_with_untrainable_rows_is_400_naming_it(api):
    qa = dataset(api, [{"question": "2+2?", "answer": "4"}], "eval/question-answer")
    response = api.post("/v1alpha/post-training/supervised-fine-tune", json=sft_body(qa, steps=1))
    assert response.status_code == 400 and "eval/question-answer" in error_of(response)["message"]
    rows = [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}, {"role": "assistant", "content": "A cat."}]},
    ]
    images = dataset(api, rows)
    response = api.post("/v1alpha/post-training/supervised-fine-tune", json=sft_body(images, steps=1))
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "training_config.data_config.dataset_id" and error["message"].startswith("row 1:")


def test_a_taken_job_uuid_is_409_and_unknown_jobs_are_404(api, secrets_dataset):
    body = sft_body(secrets_dataset, steps=1)
    ok(api.post("/v1alpha/post-training/supervised-fine-tune", json=body))
    again = api.post("/v1alpha/post-training/supervised-fine-tune", json=body)
    assert again.status_code == 409 and error_of(again)["param"] == "job_uuid"
    for path in ("status", "artifacts"):
        missing = api.get(f"{JOBS}/no-such-job/{path}")
        assert missing.status_code == 404 and "no-such-job" in error_of(missing)["message"]
    assert api.post(f"{JOBS}/no-such-job/cancel").status_code == 404
    settle(api, body["job_uuid"])


def test_a_training_failure_fails_the_job_with_its_reason_and_the_worker_stays_up(api, secrets_dataset):
    # fp16 needs a GPU, which only the worker can know (a NaN loss takes the same path; the
    # trainer's own tests provoke one: tests/unit/test_training_core.py).
    body = sft_body(secrets_dataset, steps=2)
    body["training_config"]["dtype"] = "fp16"
    ok(api.post("/v1alpha/post-training/supervised-fine-tune", json=body))
    status = settle(api, body["job_uuid"])
    assert status["status"] == "failed" and "fp16 training needs a GPU" in status["job"]["error"]["message"], status["job"]
    assert status["job"]["attempts"] == 1  # a permanent failure is not retried
    # The next job still runs on the same worker.
    after = sft_body(secrets_dataset, steps=1)
    ok(api.post("/v1alpha/post-training/supervised-fine-tune", json=after))
    assert settle(api, after["job_uuid"])["status"] == "completed"
