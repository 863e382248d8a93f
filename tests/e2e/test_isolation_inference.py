"""Tenant isolation of inference's stored chat completions, batches and registered models, and
of safety's shields, through the gateway with auth on (REST and gRPC) and on the services'
own ports.

Alice owns the resources; Carol is on Alice's team (reads, never changes); Bob is another
tenant (sees nothing: 404 exactly as for a missing id, left out of lists); an admin key
reads everything. Models and shields are registered on the services' ports with Alice's
identity (registering is admin-only at the gateway); the distribution's own stay public.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import psycopg
import pytest
from google.protobuf import json_format

from stackmesh.inference.v1 import batch_service_pb2 as batch_pb
from stackmesh.inference.v1 import batch_service_pb2_grpc as batch_grpc
from stackmesh.inference.v1 import inference_service_pb2 as pb
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from stackmesh.safety.v1 import safety_service_pb2 as safety_pb
from stackmesh.safety.v1 import safety_service_pb2_grpc as safety_grpc
from tests.conftest import CHAT_MODEL, EMBEDDING_MODEL
from tests.e2e.test_bad_input import error_of
from tests.e2e.test_isolation_files_and_stores import (
    MISSING_FILE,
    Tenants,
    assert_grpc_hidden,
    assert_hidden,
    assert_unknown_cursor,
    ids,
    make_tenants,
    upload,
)

MISSING_COMPLETION = "chatcmpl-" + "0" * 24
MISSING_BATCH = "batch_" + "0" * 32
MISSING_MODEL = "no-such-model-" + "0" * 8
MISSING_SHIELD = "no-such-shield-" + "0" * 8
# A model of the test distribution's remote provider: registering it loads nothing here.
REMOTE_PROVIDER, REMOTE_MODEL = "vllm", "smollm2-135m-instruct"
FINAL = {"completed", "failed", "expired", "cancelled"}


@dataclass
class Owned:
    completion_id: str
    bob_completion_id: str
    batch_id: str
    batch_input_file_id: str
    batch_output_file_id: str
    model_id: str
    shield_id: str


@pytest.fixture(scope="module")
def tenants(stack, auth_gateway) -> Iterator[Tenants]:
    yield from make_tenants(stack, auth_gateway)


def chat(tenant, content: str) -> str:
    """A stored one-token chat completion of the tenant's; its id once it is stored."""
    response = tenant.http.post(
        "/v1/chat/completions",
        json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": content}], "max_tokens": 1, "metadata": {"who": tenant.principal}},
    )
    assert response.status_code == 200, response.text
    completion_id = response.json()["id"]
    deadline = time.monotonic() + 30
    while tenant.http.get(f"/v1/chat/completions/{completion_id}").status_code == 404:
        assert time.monotonic() < deadline, f"{completion_id} was never stored"
        time.sleep(0.1)
    return completion_id


def register_model(stack, tenant, model_id: str) -> None:
    with grpc.insecure_channel(stack.service_address("inference")) as channel:
        pb_grpc.ModelsServiceStub(channel).RegisterModel(
            pb.RegisterModelRequest(model_id=model_id, provider_id=REMOTE_PROVIDER, provider_model_id=REMOTE_MODEL, model_type="llm"),
            metadata=tenant.service_metadata,
            timeout=60,
        )


def register_shield(stack, tenant, shield_id: str) -> None:
    with grpc.insecure_channel(stack.service_address("safety")) as channel:
        safety_grpc.ShieldsServiceStub(channel).RegisterShield(
            safety_pb.RegisterShieldRequest(shield_id=shield_id, provider_id="pii"), metadata=tenant.service_metadata, timeout=60
        )


@pytest.fixture(scope="module")
def owned(stack, tenants: Tenants) -> Iterator[Owned]:
    alice = tenants.alice
    completion_id = chat(alice, "Say yes")
    bob_completion_id = chat(tenants.bob, "Say no")
    line = {"custom_id": "e1", "method": "POST", "url": "/v1/embeddings", "body": {"model": EMBEDDING_MODEL, "input": "hello"}}
    input_file_id = upload(alice.sdk, json.dumps(line) + "\n", "input.jsonl", purpose="batch")
    batch = alice.sdk.batches.create(input_file_id=input_file_id, endpoint="/v1/embeddings", completion_window="24h")
    deadline = time.monotonic() + 120
    while (batch := alice.sdk.batches.retrieve(batch.id)).status not in FINAL:
        assert time.monotonic() < deadline, f"batch {batch.id} is still {batch.status}"
        time.sleep(0.2)
    assert batch.status == "completed" and batch.output_file_id, batch
    run = alice.principal.removeprefix("alice-")
    model_id, shield_id = f"alice-model-{run}", f"alice-pii-{run}"
    register_model(stack, alice, model_id)
    register_shield(stack, alice, shield_id)
    yield Owned(completion_id, bob_completion_id, batch.id, input_file_id, batch.output_file_id, model_id, shield_id)
    with grpc.insecure_channel(stack.service_address("inference")) as channel:
        pb_grpc.ModelsServiceStub(channel).UnregisterModel(
            pb.UnregisterModelRequest(model_id=model_id), metadata=alice.service_metadata, timeout=60
        )
    with grpc.insecure_channel(stack.service_address("safety")) as channel:
        safety_grpc.ShieldsServiceStub(channel).UnregisterShield(
            safety_pb.UnregisterShieldRequest(identifier=shield_id), metadata=alice.service_metadata, timeout=60
        )


# Stored chat completions.


def test_another_tenant_cannot_list_read_change_or_delete_a_stored_completion(tenants, owned):
    bob = tenants.bob.http
    assert ids(bob.get("/v1/chat/completions", params={"limit": 1000})) == {owned.bob_completion_id}
    assert_unknown_cursor(lambda c: bob.get("/v1/chat/completions", params={"after": c}), owned.completion_id, MISSING_COMPLETION)
    for method, path, body in [
        ("GET", "/v1/chat/completions/{}", None),
        ("GET", "/v1/chat/completions/{}/messages", None),
        ("POST", "/v1/chat/completions/{}", {"metadata": {"who": "bob"}}),
        ("DELETE", "/v1/chat/completions/{}", None),
    ]:
        assert_hidden(lambda c: bob.request(method, path.format(c), json=body), owned.completion_id, MISSING_COMPLETION)
    assert tenants.alice.http.get(f"/v1/chat/completions/{owned.completion_id}").json()["metadata"] == {"who": tenants.alice.principal}


def test_a_teammate_reads_a_stored_completion_but_cannot_change_it(tenants, owned):
    carol = tenants.carol.http
    assert ids(carol.get("/v1/chat/completions", params={"limit": 1000})) == {owned.completion_id}
    assert carol.get(f"/v1/chat/completions/{owned.completion_id}").json()["id"] == owned.completion_id
    messages = carol.get(f"/v1/chat/completions/{owned.completion_id}/messages")
    assert messages.status_code == 200 and messages.json()["data"][0]["content"] == "Say yes"
    assert_hidden(lambda c: carol.post(f"/v1/chat/completions/{c}", json={"metadata": {"who": "carol"}}), owned.completion_id, MISSING_COMPLETION)
    assert_hidden(lambda c: carol.delete(f"/v1/chat/completions/{c}"), owned.completion_id, MISSING_COMPLETION)


def test_an_admin_reads_and_the_owner_changes_and_deletes_its_completions(tenants, owned):
    admin, alice = tenants.admin.http, tenants.alice
    assert admin.get(f"/v1/chat/completions/{owned.completion_id}").status_code == 200
    assert {owned.completion_id, owned.bob_completion_id} <= ids(admin.get("/v1/chat/completions", params={"limit": 1000}))
    assert ids(alice.http.get("/v1/chat/completions", params={"limit": 1000})) == {owned.completion_id}
    scratch = chat(alice, "Say maybe")
    updated = alice.http.post(f"/v1/chat/completions/{scratch}", json={"metadata": {"checked": "yes"}})
    assert updated.status_code == 200 and updated.json()["metadata"] == {"checked": "yes"}
    page = alice.http.get("/v1/chat/completions", params={"after": scratch})
    assert ids(page) == {owned.completion_id}
    deleted = alice.http.delete(f"/v1/chat/completions/{scratch}")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True


# Batches.


def test_another_tenant_cannot_list_read_cancel_or_reuse_a_batch(tenants, owned):
    bob = tenants.bob.http
    assert ids(bob.get("/v1/batches", params={"limit": 100})) == set()
    assert_unknown_cursor(lambda b: bob.get("/v1/batches", params={"after": b}), owned.batch_id, MISSING_BATCH)
    assert_hidden(lambda b: bob.get(f"/v1/batches/{b}"), owned.batch_id, MISSING_BATCH)
    assert_hidden(lambda b: bob.post(f"/v1/batches/{b}/cancel"), owned.batch_id, MISSING_BATCH)
    assert_hidden(lambda f: bob.get(f"/v1/files/{f}/content"), owned.batch_output_file_id, MISSING_FILE)
    # Another tenant's input file is as missing as a file that never was.
    assert_hidden(
        lambda f: bob.post("/v1/batches", json={"input_file_id": f, "endpoint": "/v1/embeddings", "completion_window": "24h"}),
        owned.batch_input_file_id,
        MISSING_FILE,
    )
    assert ids(bob.get("/v1/batches", params={"limit": 100})) == set()


def test_a_teammate_reads_a_batch_and_its_output_but_cannot_cancel_it(tenants, owned):
    carol = tenants.carol.http
    assert ids(carol.get("/v1/batches", params={"limit": 100})) == {owned.batch_id}
    assert carol.get(f"/v1/batches/{owned.batch_id}").json()["output_file_id"] == owned.batch_output_file_id
    output = carol.get(f"/v1/files/{owned.batch_output_file_id}/content")
    assert output.status_code == 200 and json.loads(output.text.splitlines()[0])["custom_id"] == "e1"
    assert_hidden(lambda b: carol.post(f"/v1/batches/{b}/cancel"), owned.batch_id, MISSING_BATCH)


def test_an_admin_and_the_owner_read_a_batch_and_the_owner_cancels(tenants, owned):
    assert tenants.admin.http.get(f"/v1/batches/{owned.batch_id}").status_code == 200
    alice = tenants.alice.http
    assert ids(alice.get("/v1/batches", params={"limit": 100})) == {owned.batch_id}
    cancelled = alice.post(f"/v1/batches/{owned.batch_id}/cancel")
    # Already finished: cancelling answers the batch as it is.
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "completed"


# Models registered by a tenant.


def test_another_tenant_neither_lists_nor_uses_nor_learns_the_name_of_a_tenants_model(stack, tenants, owned):
    bob = tenants.bob.http
    listed = ids(bob.get("/v1/models"))
    assert CHAT_MODEL in listed and owned.model_id not in listed
    assert_hidden(lambda m: bob.get(f"/v1/models/{m}"), owned.model_id, MISSING_MODEL)
    hidden = bob.get(f"/v1/models/{owned.model_id}")
    assert error_of(hidden)["code"] == "model_not_found" and CHAT_MODEL in error_of(hidden)["message"]
    assert error_of(hidden)["message"].count(owned.model_id) == 1  # the name asked for, not among those listed
    assert_hidden(
        lambda m: bob.post("/v1/chat/completions", json={"model": m, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}),
        owned.model_id,
        MISSING_MODEL,
    )
    with grpc.insecure_channel(stack.service_address("inference")) as channel:
        models = pb_grpc.ModelsServiceStub(channel)
        for tenant in (tenants.bob, tenants.carol):
            assert_grpc_hidden(
                lambda m: models.UnregisterModel(pb.UnregisterModelRequest(model_id=m), metadata=tenant.service_metadata, timeout=30),
                owned.model_id,
                MISSING_MODEL,
            )


def test_a_teammate_and_an_admin_see_a_tenants_model(tenants, owned):
    for tenant in (tenants.carol, tenants.admin, tenants.alice):
        assert owned.model_id in ids(tenant.http.get("/v1/models"))
        got = tenant.http.get(f"/v1/models/{owned.model_id}")
        assert got.status_code == 200 and got.json()["provider_id"] == REMOTE_PROVIDER


def test_the_owner_unregisters_its_model(stack, tenants):
    alice = tenants.alice
    model_id = f"alice-scratch-{uuid.uuid4().hex[:8]}"
    register_model(stack, alice, model_id)
    with psycopg.connect(stack.config.postgres.url) as conn:
        row = conn.execute("SELECT owner, owner_attributes, source FROM inference.resources WHERE kind = 'models' AND id = %s", (model_id,)).fetchone()
    assert row == (alice.principal, alice.attributes, "api")
    with grpc.insecure_channel(stack.service_address("inference")) as channel:
        deleted = pb_grpc.ModelsServiceStub(channel).UnregisterModel(
            pb.UnregisterModelRequest(model_id=model_id), metadata=alice.service_metadata, timeout=30
        )
    assert deleted.deleted is True
    assert alice.http.get(f"/v1/models/{model_id}").status_code == 404


def test_an_admin_registers_and_unregisters_a_model_through_the_gateway(tenants):
    admin = tenants.admin.http
    model_id = f"ops-model-{uuid.uuid4().hex[:8]}"
    created = admin.post("/v1/models", json={"model_id": model_id, "provider_id": REMOTE_PROVIDER, "provider_model_id": REMOTE_MODEL})
    assert created.status_code == 200, created.text
    assert admin.get(f"/v1/models/{model_id}").status_code == 200
    assert admin.delete(f"/v1/models/{model_id}").status_code == 200
    assert admin.get(f"/v1/models/{model_id}").status_code == 404


# Shields registered by a tenant.


def test_another_tenant_neither_lists_nor_runs_a_tenants_shield(stack, tenants, owned):
    bob = tenants.bob.http
    listed = {s["identifier"] for s in bob.get("/v1/shields").json()["data"]}
    assert "pii" in listed and owned.shield_id not in listed
    assert_hidden(lambda s: bob.get(f"/v1/shields/{s}"), owned.shield_id, MISSING_SHIELD)
    hidden = error_of(bob.get(f"/v1/shields/{owned.shield_id}"))
    assert hidden["message"].count(owned.shield_id) == 1
    run = {"messages": [{"role": "user", "content": "hello"}]}
    assert_hidden(lambda s: bob.post("/v1/safety/run-shield", json={"shield_id": s, **run}), owned.shield_id, MISSING_SHIELD)
    assert_hidden(lambda s: bob.post("/v1/moderations", json={"model": s, "input": "hello"}), owned.shield_id, MISSING_SHIELD)
    with grpc.insecure_channel(stack.service_address("safety")) as channel:
        shields = safety_grpc.ShieldsServiceStub(channel)
        for tenant in (tenants.bob, tenants.carol):
            assert_grpc_hidden(
                lambda s: shields.UnregisterShield(safety_pb.UnregisterShieldRequest(identifier=s), metadata=tenant.service_metadata, timeout=30),
                owned.shield_id,
                MISSING_SHIELD,
            )


def test_a_teammate_and_an_admin_run_a_tenants_shield(tenants, owned):
    for tenant in (tenants.carol, tenants.admin, tenants.alice):
        assert owned.shield_id in {s["identifier"] for s in tenant.http.get("/v1/shields").json()["data"]}
        assert tenant.http.get(f"/v1/shields/{owned.shield_id}").status_code == 200
        ran = tenant.http.post("/v1/safety/run-shield", json={"shield_id": owned.shield_id, "messages": [{"role": "user", "content": "hello"}]})
        assert ran.status_code == 200 and ran.json()["violation"] is None, ran.text


def test_the_owner_unregisters_its_shield(stack, tenants):
    alice = tenants.alice
    shield_id = f"alice-scratch-{uuid.uuid4().hex[:8]}"
    register_shield(stack, alice, shield_id)
    with grpc.insecure_channel(stack.service_address("safety")) as channel:
        safety_grpc.ShieldsServiceStub(channel).UnregisterShield(
            safety_pb.UnregisterShieldRequest(identifier=shield_id), metadata=alice.service_metadata, timeout=30
        )
    assert alice.http.get(f"/v1/shields/{shield_id}").status_code == 404


# gRPC through the gateway.


def test_grpc_through_the_gateway_hides_and_shares_alike(tenants, owned, auth_gateway):
    bob, carol = tenants.bob.grpc_metadata, tenants.carol.grpc_metadata
    with grpc.insecure_channel(auth_gateway.grpc_address) as channel:
        inference, batches = pb_grpc.InferenceServiceStub(channel), batch_grpc.BatchesServiceStub(channel)
        models, safety = pb_grpc.ModelsServiceStub(channel), safety_grpc.SafetyServiceStub(channel)
        get_completion = lambda c, who: inference.GetChatCompletion(pb.GetChatCompletionRequest(completion_id=c), metadata=who, timeout=30)  # noqa: E731
        assert_grpc_hidden(lambda c: get_completion(c, bob), owned.completion_id, MISSING_COMPLETION)
        assert get_completion(owned.completion_id, carol).id == owned.completion_id
        assert_grpc_hidden(
            lambda c: inference.DeleteChatCompletion(pb.DeleteChatCompletionRequest(completion_id=c), metadata=carol, timeout=30),
            owned.completion_id,
            MISSING_COMPLETION,
        )
        listed = inference.ListChatCompletions(pb.ListChatCompletionsRequest(), metadata=bob, timeout=30)
        assert {c.id for c in listed.data} == {owned.bob_completion_id}

        assert_grpc_hidden(lambda b: batches.GetBatch(batch_pb.GetBatchRequest(batch_id=b), metadata=bob, timeout=30), owned.batch_id, MISSING_BATCH)
        assert_grpc_hidden(
            lambda b: list(batches.WatchBatch(batch_pb.WatchBatchRequest(batch_id=b), metadata=bob, timeout=30)), owned.batch_id, MISSING_BATCH
        )
        assert batches.GetBatch(batch_pb.GetBatchRequest(batch_id=owned.batch_id), metadata=carol, timeout=30).status == "completed"

        assert_grpc_hidden(lambda m: models.GetModel(pb.GetModelRequest(model=m), metadata=bob, timeout=30), owned.model_id, MISSING_MODEL)
        assert models.GetModel(pb.GetModelRequest(model=owned.model_id), metadata=carol, timeout=30).id == owned.model_id

        def run_shield(shield_id: str, who) -> safety_pb.RunShieldResponse:
            request = safety_pb.RunShieldRequest(shield_id=shield_id)
            json_format.ParseDict({"role": "user", "content": "hello"}, request.messages.add())
            return safety.RunShield(request, metadata=who, timeout=30)

        assert_grpc_hidden(lambda s: run_shield(s, bob), owned.shield_id, MISSING_SHIELD)
        assert not run_shield(owned.shield_id, carol).HasField("violation")


def test_rows_record_their_owner_and_the_owners_attributes(stack, tenants, owned):
    alice = tenants.alice
    with psycopg.connect(stack.config.postgres.url) as conn:
        completion = conn.execute(
            "SELECT owner, owner_attributes FROM inference.chat_completions WHERE id = %s", (owned.completion_id,)
        ).fetchone()
        batch = conn.execute("SELECT owner, owner_attributes FROM inference.batches WHERE id = %s", (owned.batch_id,)).fetchone()
        shield = conn.execute(
            "SELECT owner, owner_attributes FROM safety.resources WHERE kind = 'shields' AND id = %s", (owned.shield_id,)
        ).fetchone()
        # Written by the batch's job through a peer call: the job acts for the batch's owner.
        output = conn.execute(
            "SELECT owner, owner_attributes FROM vector_io.files WHERE id = %s", (owned.batch_output_file_id,)
        ).fetchone()
    assert completion == batch == shield == output == (alice.principal, alice.attributes)
