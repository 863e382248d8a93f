"""OpenAI batches through the gateway with the unmodified openai SDK: lines validated one by
one, results in Files, counts, idempotent create, watch over SSE, cancel."""

from __future__ import annotations

import io
import json
import time

import httpx
import openai
import pytest

from tests.conftest import CHAT_MODEL, EMBEDDING_MODEL
from tests.e2e.test_bad_input import error_of

FINAL = {"completed", "failed", "expired", "cancelled"}


def chat_line(custom_id: str, content: str = "Say hi", max_tokens: int = 8, **overrides) -> dict:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": CHAT_MODEL, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens, "temperature": 0},
        **overrides,
    }


def upload(client: openai.OpenAI, lines: list, purpose: str = "batch") -> str:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    return client.files.create(file=("input.jsonl", io.BytesIO(text.encode())), purpose=purpose).id


def wait_final(client: openai.OpenAI, batch_id: str, timeout_s: float = 180):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in FINAL:
            return batch
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} is still {batch.status}")


def jsonl(client: openai.OpenAI, file_id: str) -> list[dict]:
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines() if line]


def test_a_chat_batch_runs_every_good_line_and_reports_each_bad_one(client):
    lines = [
        chat_line("a", "Say hi"),
        chat_line("b", "Name a colour"),
        chat_line("a", "duplicate id"),
        chat_line("wrong-url", url="/v1/embeddings"),
        chat_line("get", method="GET"),
        {**chat_line("nomodel"), "body": {**chat_line("x")["body"], "model": "no-such-model"}},
        {**chat_line("streamed"), "body": {**chat_line("x")["body"], "stream": True}},
        "not json",
        chat_line("bad-param", max_tokens=-5),
    ]
    batch = client.batches.create(
        input_file_id=upload(client, lines), endpoint="/v1/chat/completions", completion_window="24h", metadata={"run": "t1"}
    )
    assert batch.status == "validating" and batch.object == "batch" and batch.metadata == {"run": "t1"}
    assert batch.expires_at - batch.created_at == 24 * 3600
    done = wait_final(client, batch.id)
    assert done.status == "completed", done
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (9, 2, 7)
    assert done.model == CHAT_MODEL
    assert done.in_progress_at and done.finalizing_at and done.completed_at
    assert done.usage.input_tokens > 0 and done.usage.output_tokens > 0

    outputs = jsonl(client, done.output_file_id)
    assert [o["custom_id"] for o in outputs] == ["a", "b"]
    for output in outputs:
        assert output["id"].startswith("batch_req_") and output["error"] is None
        assert output["response"]["status_code"] == 200
        assert output["response"]["body"]["choices"][0]["message"]["content"]
    errors = {e["custom_id"]: e for e in jsonl(client, done.error_file_id)}
    assert set(errors) == {"a", "wrong-url", "get", "nomodel", "streamed", "line-8", "bad-param"}
    assert errors["wrong-url"]["error"]["code"] == "mismatched_url"
    assert errors["get"]["error"]["code"] == "invalid_method"
    assert errors["nomodel"]["error"]["code"] == "model_not_found"
    assert errors["streamed"]["error"]["code"] == "stream_unsupported"
    assert errors["line-8"]["error"]["code"] == "invalid_json"
    assert errors["a"]["error"]["code"] == "duplicate_custom_id"
    # A request the inference API refused carries its HTTP status and OpenAI error body.
    assert errors["bad-param"]["response"]["status_code"] == 400
    assert errors["bad-param"]["response"]["body"]["error"]["param"] == "max_tokens"
    assert client.files.retrieve(done.output_file_id).purpose == "batch_output"


def test_an_embeddings_batch_writes_vectors(client):
    lines = [
        {"custom_id": f"e{i}", "method": "POST", "url": "/v1/embeddings", "body": {"model": EMBEDDING_MODEL, "input": text}}
        for i, text in enumerate(["a cat", "a dog", "a fish"])
    ]
    batch = client.batches.create(input_file_id=upload(client, lines), endpoint="/v1/embeddings", completion_window="24h")
    done = wait_final(client, batch.id)
    assert done.status == "completed" and done.error_file_id is None
    outputs = jsonl(client, done.output_file_id)
    assert [o["custom_id"] for o in outputs] == ["e0", "e1", "e2"]
    assert len(outputs[0]["response"]["body"]["data"][0]["embedding"]) == 384


def test_an_input_that_cannot_be_a_batch_fails_with_errors(client):
    batch = client.batches.create(input_file_id=upload(client, ["", "  "]), endpoint="/v1/chat/completions", completion_window="24h")
    done = wait_final(client, batch.id)
    assert done.status == "failed" and done.failed_at
    assert done.errors.data[0].code == "invalid_input_file" and "no requests" in done.errors.data[0].message


@pytest.mark.parametrize(
    ("overrides", "param", "fragment"),
    [
        ({"endpoint": "/v1/moderations"}, "endpoint", "endpoint"),
        ({"completion_window": "1h"}, "completion_window", "24h"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "16"),
        ({"metadata": {"k": "v" * 513}}, "metadata", "512"),
    ],
)
def test_bad_create_parameters_are_400(client, overrides, param, fragment):
    args = {"input_file_id": upload(client, [chat_line("a")]), "endpoint": "/v1/chat/completions", "completion_window": "24h", **overrides}
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(**args)
    assert caught.value.param == param and fragment in caught.value.message


def test_input_file_must_exist_and_have_purpose_batch(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
    assert caught.value.param == "input_file_id"
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(
            input_file_id=upload(client, [chat_line("a")], purpose="assistants"), endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert "purpose" in caught.value.message


def test_unknown_batch_is_404(client, stack):
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    response = httpx.post(f"{stack.gateway_url}/v1/batches/batch_nope/cancel", timeout=30)
    assert response.status_code == 404 and error_of(response)["param"] == "batch_id"


def test_create_is_idempotent_by_key(client):
    file_id = upload(client, [chat_line("a")])
    args = {"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    first = client.batches.create(**args, extra_body={"idempotency_key": "key-1"})
    again = client.batches.create(**args, extra_body={"idempotency_key": "key-1"})
    assert again.id == first.id
    with pytest.raises(openai.ConflictError) as caught:
        client.batches.create(**args, metadata={"other": "params"}, extra_body={"idempotency_key": "key-1"})
    assert first.id in caught.value.message
    assert client.batches.create(**args).id != first.id
    wait_final(client, first.id)


def test_list_pages_newest_first(client):
    ids = [
        client.batches.create(input_file_id=upload(client, [chat_line("a")]), endpoint="/v1/chat/completions", completion_window="24h").id
        for _ in range(3)
    ]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2] and page.has_more
    following = client.batches.list(limit=2, after=page.data[-1].id)
    assert following.data[0].id == ids[0]
    for batch_id in ids:
        wait_final(client, batch_id)


def test_watch_streams_job_snapshots_over_sse_until_the_end(client, stack):
    batch = client.batches.create(
        input_file_id=upload(client, [chat_line(str(i)) for i in range(4)]), endpoint="/v1/chat/completions", completion_window="24h"
    )
    events = []
    with httpx.stream("GET", f"{stack.gateway_url}/v1/batches/{batch.id}:watch", timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: "):]))
    assert events[0]["id"] == batch.id and events[0]["kind"] == "batch"
    assert events[-1]["state"] == "JOB_STATE_COMPLETED"
    progress = events[-1]["progress"]
    # 32-bit counters print as JSON numbers, not strings.
    assert progress["completed"] == 4 and progress["total"] == 4
    assert all(isinstance(e["progress"]["completed"], int) for e in events)
    assert events[-1]["result"]["output_file_id"] == client.batches.retrieve(batch.id).output_file_id


def test_cancel_mid_run_starts_no_further_requests(client):
    lines = [chat_line(f"r{i}", "Write a long story about a dragon", max_tokens=48) for i in range(40)]
    batch = client.batches.create(input_file_id=upload(client, lines), endpoint="/v1/chat/completions", completion_window="24h")
    deadline = time.monotonic() + 120
    while client.batches.retrieve(batch.id).request_counts.completed < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status in ("cancelling", "cancelled")
    at_cancel = cancelling.request_counts.completed
    began = time.monotonic()
    done = wait_final(client, batch.id, timeout_s=30)
    assert done.status == "cancelled" and done.cancelled_at and done.cancelling_at
    assert time.monotonic() - began < 5
    # Requests in flight when the cancel landed were stopped, not finished.
    assert done.request_counts.completed <= at_cancel + 1
    outputs = jsonl(client, done.output_file_id)
    assert len(outputs) == done.request_counts.completed
    assert len({o["custom_id"] for o in outputs}) == len(outputs)
    # Cancelling a finished batch changes nothing.
    assert client.batches.cancel(batch.id).status == "cancelled"
