"""Synthetic data generation through the gateway on the real stack: SmolLM2 samples answers to
seed dialogs, SmolLM2 judges them, the filter keeps the best, and the kept answers become a
post-training/messages dataset of the eval service; cancel, result and bad input."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import CHAT_MODEL
from tests.e2e.test_bad_input import error_of
from tests.support.watch import job_snapshots

BASE = "/v1/synthetic-data-generation"
JUDGE = {"type": "llm_as_judge", "judge_model": CHAT_MODEL, "judge_output_regex": "Score: [0-5]"}
DIALOGS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You answer briefly."}, {"role": "user", "content": "Name a colour of the sky."}],
]


@pytest.fixture(scope="module")
def api(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.gateway_url, timeout=120) as client:
        yield client


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def body(**overrides) -> dict:
    request = {
        "dialogs": DIALOGS, "filtering_function": "top_k", "model": CHAT_MODEL, "num_candidates": 3, "max_tokens": 16,
        "scoring_params": JUDGE, "top_k": 1, "threshold": 0,
    }  # fmt: skip
    return {**request, **overrides}


def finished(stack, job_id: str) -> dict:
    """The job's last snapshot, followed over `GET …:watch` until it is over."""
    snapshots = job_snapshots(f"{stack.gateway_url}{BASE}/jobs/{job_id}:watch")
    assert snapshots and snapshots[-1]["id"] == job_id and snapshots[-1]["kind"] == "synthetic_data"
    return snapshots[-1]


@pytest.fixture(scope="module")
def jobs(api) -> dict[str, str]:
    """Both generation jobs, queued together so that they run side by side."""
    top_k = ok(api.post(f"{BASE}/generate", json=body()))["job"]["id"]
    # Llama Stack's shape: one dialog as a flat message list.
    everything = body(dialogs=DIALOGS[0], filtering_function="none", num_candidates=2, dataset_id=f"synthetic-all-{uuid.uuid4().hex[:8]}")
    del everything["top_k"]
    # A judge forced to answer in a shape its score regex cannot read: no answer has a score.
    unreadable = {**JUDGE, "judge_output_regex": "Verdict: (yes|no)"}
    unscored = body(dialogs=DIALOGS[:1], num_candidates=1, scoring_params=unreadable)
    return {
        "top_k": top_k,
        "none": ok(api.post(f"{BASE}/generate", json=everything))["job"]["id"],
        "none_dataset": everything["dataset_id"],
        "unscored": ok(api.post(f"{BASE}/generate", json=unscored))["job"]["id"],
    }


def test_a_top_k_job_writes_a_dataset_of_each_dialogs_best_scored_answer(api, stack, jobs):
    """2 dialogs × 3 answers judged by SmolLM2; top_k=1 with threshold 0 keeps the best of each."""
    job = finished(stack, jobs["top_k"])
    assert job["state"] == "JOB_STATE_COMPLETED", job
    assert job["progress"]["completed"] == 2 and job["progress"]["total"] == 2
    summary = job["result"]
    # The judge is forced into "Score: N": every answer gets a score.
    assert summary["dialogs"] == 2 and summary["generated"] == summary["scored"] == 6

    result = ok(api.get(f"{BASE}/jobs/{job['id']}/result"))
    statistics, data = result["statistics"], result["synthetic_data"]
    assert {k: statistics[k] for k in summary} == summary
    per_dialog = statistics["per_dialog"]
    assert [len(d["scores"]) for d in per_dialog] == [3, 3]
    assert summary["scored"] == sum(s is not None for d in per_dialog for s in d["scores"])
    expected = []
    for dialog, scored in zip(DIALOGS, per_dialog):
        scores = [s for s in scored["scores"] if s is not None]
        assert len(scored["kept"]) == (1 if scores else 0)
        for index in scored["kept"]:
            assert scored["scores"][index] == max(scores) >= 0
            expected.append((dialog, scored["scores"][index]))
    assert summary["kept"] == len(data) == len(expected)
    for row, (dialog, score) in zip(data, expected):
        assert row["messages"][:-1] == dialog
        assert row["messages"][-1]["role"] == "assistant" and isinstance(row["messages"][-1]["content"], str)
        assert row["score"] == score

    dataset = ok(api.get(f"/v1beta/datasets/{summary['dataset_id']}"))
    assert dataset["purpose"] == "post-training/messages"
    assert dataset["metadata"]["synthetic_data_job"] == job["id"]
    assert ok(api.get(f"/v1beta/datasetio/iterrows/{summary['dataset_id']}"))["data"] == data
    listed = ok(api.get(f"{BASE}/jobs", params={"limit": 100}))["data"]
    assert job["id"] in {j["id"] for j in listed}


def test_the_none_filter_keeps_every_scored_answer_under_the_given_dataset_id(api, stack, jobs):
    job = finished(stack, jobs["none"])
    assert job["state"] == "JOB_STATE_COMPLETED", job
    summary = job["result"]
    assert summary["dataset_id"] == jobs["none_dataset"]
    assert summary["generated"] == 2 and summary["kept"] == summary["scored"]
    rows = ok(api.get(f"/v1beta/datasetio/iterrows/{jobs['none_dataset']}"))["data"]
    assert len(rows) == summary["scored"]
    assert all(row["messages"][:-1] == DIALOGS[0] for row in rows)
    assert ok(api.get(f"{BASE}/jobs/{job['id']}/result"))["synthetic_data"] == rows


def test_answers_the_judge_gives_no_score_are_dropped_and_counted(api, stack, jobs):
    job = finished(stack, jobs["unscored"])
    assert job["state"] == "JOB_STATE_COMPLETED", job
    assert {k: job["result"][k] for k in ("generated", "scored", "kept")} == {"generated": 1, "scored": 0, "kept": 0}
    assert ok(api.get(f"{BASE}/jobs/{job['id']}/result"))["statistics"]["per_dialog"] == [{"scores": [None], "kept": []}]
    assert ok(api.get(f"/v1beta/datasetio/iterrows/{job['result']['dataset_id']}"))["data"] == []


def test_a_cancelled_job_has_no_result(api, stack):
    job_id = ok(api.post(f"{BASE}/generate", json=body(dialogs=DIALOGS[:1], num_candidates=16)))["job"]["id"]
    unfinished = api.get(f"{BASE}/jobs/{job_id}/result")
    assert unfinished.status_code == 400
    assert error_of(unfinished)["code"] == "job_not_completed"
    ok(api.post(f"{BASE}/jobs/{job_id}/cancel"))
    job = finished(stack, job_id)
    assert job["state"] == "JOB_STATE_CANCELLED", job
    assert api.get(f"{BASE}/jobs/{job_id}/result").status_code == 400


def test_an_unknown_job_is_404(api):
    for response in (api.get(f"{BASE}/jobs/sdg-nope/result"), api.get(f"{BASE}/jobs/sdg-nope")):
        assert response.status_code == 404
        assert error_of(response)["param"] == "job_id"


@pytest.mark.parametrize(
    "overrides, status, param",
    [
        ({"model": "no-such-model"}, 404, "model"),
        ({"filtering_function": "best"}, 400, "filtering_function"),
        ({"filtering_function": "sigmoid"}, 400, "filtering_function"),
        ({"num_candidates": 0}, 400, "num_candidates"),
        ({"dialogs": []}, 400, "dialogs"),
        ({"dialogs": [DIALOGS[0], [*DIALOGS[1], {"role": "assistant", "content": "Blue."}]]}, 400, "dialogs[1]"),
        ({"dialogs": [{"role": "wizard", "content": "hi"}]}, 400, "dialogs[0].role"),
        ({"filtering_function": "none"}, 400, "top_k"),
        ({"scoring_function": "no-such-function"}, 404, "scoring_function"),
    ],
)
def test_bad_input_names_the_field(api, overrides, status, param):
    response = api.post(f"{BASE}/generate", json=body(**overrides))
    assert response.status_code == status, response.text
    assert error_of(response)["param"] == param
