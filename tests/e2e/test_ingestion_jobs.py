"""Ingestion as durable jobs: a worker killed mid-file loses nothing and duplicates nothing; a
worker cut off from NATS loses its job to another, and the file is ingested once; attaching
without waiting for ingestion; and the upload size limit of a distribution that sets one."""

from __future__ import annotations

import io
import os
import signal
import time
from typing import Iterator

import httpx
import openai
import pytest

from stackmesh_launcher.stack import LocalStack
from tests.conftest import start_local_stack
from tests.support.partition import PartitionableProxy
from tests.support.workers import WorkerProcess
from tests.e2e.test_bad_input import error_of

INGESTION_WORKER = "stackmesh_vector_io.worker"

UPLOAD_LIMIT = 2_000_000
OVERRIDES = {
    # Workers run as processes of their own, so the test can kill one.
    "STACKMESH_SERVICES__VECTOR_IO__SETTINGS__INGESTION__IN_PROCESS": "false",
    # A dead worker's job comes back after this many seconds.
    "STACKMESH_SERVICES__VECTOR_IO__SETTINGS__INGESTION__ACK_WAIT_S": "3",
    # Attaching answers at once: the test kills the worker while the file is in progress.
    "STACKMESH_SERVICES__VECTOR_IO__SETTINGS__ATTACH_WAIT_S": "0",
    "STACKMESH_GATEWAY__MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
}
TOKENS, CHUNK_TOKENS = 20_000, 100
# How long the partition test cuts a worker off from NATS.
PARTITION_S = 10


@pytest.fixture(scope="module")
def jobs_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in OVERRIDES.items():
            patch.setenv(key, value)
        stack = start_local_stack(tmp_path_factory.mktemp("jobs-stack"))
    yield stack
    stack.stop()


def sdk(stack: LocalStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=120)


def test_a_worker_killed_mid_file_loses_nothing_and_duplicates_nothing(jobs_stack, tmp_path):
    client = sdk(jobs_stack)
    text = " ".join(f"w{i}" for i in range(TOKENS))
    file = client.files.create(file=("long.txt", io.BytesIO(text.encode())), purpose="assistants")
    store = client.vector_stores.create(name="redelivery")
    first = WorkerProcess(INGESTION_WORKER, jobs_stack, tmp_path / "first.log")
    try:
        first.wait_for("job runner started")
        attached = client.vector_stores.files.create(
            vector_store_id=store.id,
            file_id=file.id,
            chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": CHUNK_TOKENS, "chunk_overlap_tokens": 0}},
        )
        assert attached.status == "in_progress"
        progress = first.wait_for("ingest progress", lambda e: e["file_id"] == file.id and 0 < e["embedded"] < e["total"])
        first.stop(signal.SIGKILL)
    finally:
        first.stop(signal.SIGKILL)
    assert progress["attempt"] == 1
    assert client.vector_stores.files.retrieve(file_id=file.id, vector_store_id=store.id).status == "in_progress"

    second = WorkerProcess(INGESTION_WORKER, jobs_stack, tmp_path / "second.log")
    try:
        done = second.wait_for("ingested", lambda e: e["file_id"] == file.id)
        redelivered = second.events("ingest progress")
    finally:
        second.stop()
    assert {e["attempt"] for e in redelivered if e["file_id"] == file.id} == {2}
    attached = client.vector_stores.files.retrieve(file_id=file.id, vector_store_id=store.id)
    assert attached.status == "completed"

    expected = TOKENS // CHUNK_TOKENS
    assert done["chunks"] == expected
    content = client.vector_stores.files.content(file_id=file.id, vector_store_id=store.id).data
    assert len(content) == expected
    assert " ".join(part.text for part in content) == text
    for token in ("w0", "w12345", f"w{TOKENS - 1}"):
        hits = client.vector_stores.search(store.id, query=token, max_num_results=5, extra_body={"search_mode": "keyword"}).data
        assert len(hits) == 1, token


def test_a_worker_cut_off_from_nats_for_ten_seconds_loses_its_job_which_is_done_once(jobs_stack, tmp_path):
    """A partition, not a crash: the worker keeps Postgres and the inference service but its
    NATS traffic stops for 10 s. JetStream redelivers the job to the other worker; the cut-off
    one sees the newer attempt in the record and stops, so the file is ingested once, by the
    other; healed, the cut-off worker is back on the queue by itself."""
    client = sdk(jobs_stack)
    text = " ".join(f"p{i}" for i in range(TOKENS))
    file = client.files.create(file=("partitioned.txt", io.BytesIO(text.encode())), purpose="assistants")
    store = client.vector_stores.create(name="partition")
    strategy = {"type": "static", "static": {"max_chunk_size_tokens": CHUNK_TOKENS, "chunk_overlap_tokens": 0}}
    with PartitionableProxy(jobs_stack.config.nats.url) as nats:
        cut_off = WorkerProcess(INGESTION_WORKER, jobs_stack, tmp_path / "cut-off.log", env={"STACKMESH_NATS__URL": nats.url})
        other: WorkerProcess | None = None
        try:
            cut_off.wait_for("job runner started")
            client.vector_stores.files.create(vector_store_id=store.id, file_id=file.id, chunking_strategy=strategy)
            cut_off.wait_for("ingest progress", lambda e: e["file_id"] == file.id and 0 < e["embedded"] < e["total"])
            other = WorkerProcess(INGESTION_WORKER, jobs_stack, tmp_path / "other.log")
            other.wait_for("job runner started")
            nats.partition()
            cut_at = time.monotonic()
            other.wait_for("ingest progress", lambda e: e["file_id"] == file.id and e["attempt"] == 2, timeout_s=30)
            stopped = cut_off.wait_for("job taken over", timeout_s=10)
            time.sleep(max(0.0, PARTITION_S - (time.monotonic() - cut_at)))
            nats.heal()
            done = other.wait_for("ingested", lambda e: e["file_id"] == file.id)

            assert stopped["attempt"] == 1 and len(cut_off.events("job taken over")) == 1
            assert [e for e in cut_off.events("ingested")] == []
            assert {e["attempt"] for e in cut_off.events("ingest progress") if e["file_id"] == file.id} == {1}
            assert done["chunks"] == TOKENS // CHUNK_TOKENS
            content = client.vector_stores.files.content(file_id=file.id, vector_store_id=store.id).data
            assert " ".join(part.text for part in content) == text, "a chunk was lost or written twice"

            # Healed, the cut-off worker takes jobs again (its connection came back by itself).
            other.stop()
            late = client.files.create(file=("after.txt", io.BytesIO(b"Herons wade at dawn.")), purpose="assistants")
            client.vector_stores.files.create(vector_store_id=store.id, file_id=late.id)
            cut_off.wait_for("ingested", lambda e: e["file_id"] == late.id, timeout_s=30)
        finally:
            cut_off.stop(signal.SIGKILL)
            if other is not None:
                other.stop(signal.SIGKILL)
    assert client.vector_stores.files.retrieve(file_id=late.id, vector_store_id=store.id).status == "completed"


def test_without_the_attach_wait_create_answers_in_progress_and_a_cancel_wins(jobs_stack):
    """attach_wait_s 0 and no worker running: nothing is ingested before the cancel."""
    client = sdk(jobs_stack)
    store = client.vector_stores.create(name="no wait")
    file = client.files.create(file=("small.txt", io.BytesIO(b"Kites fly on windy beaches.")), purpose="assistants")
    attached = client.vector_stores.files.create(vector_store_id=store.id, file_id=file.id)
    assert attached.status == "in_progress" and attached.last_error is None
    batch = client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=[file.id])
    assert batch.status == "in_progress" and batch.file_counts.in_progress == 1
    cancelled = client.vector_stores.file_batches.cancel(batch_id=batch.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled" and cancelled.file_counts.cancelled == 1
    assert client.vector_stores.files.retrieve(file_id=file.id, vector_store_id=store.id).status == "cancelled"
    assert client.vector_stores.search(store.id, query="kites", extra_body={"search_mode": "keyword"}).data == []


def test_an_upload_declaring_more_than_the_limit_is_413(jobs_stack):
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(jobs_stack).files.create(file=("big.bin", io.BytesIO(os.urandom(UPLOAD_LIMIT + 1))), purpose="assistants")
    assert caught.value.status_code == 413
    assert caught.value.code == "request_too_large" and str(UPLOAD_LIMIT) in caught.value.message


def test_a_chunked_upload_over_the_limit_is_413_from_the_service(jobs_stack):
    """Without a Content-Length the gateway cannot know the size: the service counts and refuses."""

    def body() -> Iterator[bytes]:
        yield b'--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
        yield b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
        for _ in range(UPLOAD_LIMIT // 100_000 + 5):
            yield b"x" * 100_000
        yield b"\r\n--B--\r\n"

    response = httpx.post(
        f"{jobs_stack.gateway_url}/v1/files", content=body(), headers={"content-type": "multipart/form-data; boundary=B"}, timeout=60
    )
    assert response.status_code == 413, response.text
    error = error_of(response)
    assert error["code"] == "request_too_large" and error["param"] == "file"
    assert "big.txt" not in {f.filename for f in sdk(jobs_stack).files.list()}
