"""Tenant isolation of Files and vector stores (their files, file batches, search, raw chunks)
through the gateway with auth on, over REST and gRPC, and on vector_io's own port.

Alice owns the resources; Carol is on Alice's team (reads, never changes); Bob is another
tenant (sees nothing: 404 exactly as for a missing id, left out of lists); an admin key
reads everything.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import httpx
import openai
import psycopg
import pytest

from stackmesh.vector_io.v1 import files_service_pb2 as files_pb
from stackmesh.vector_io.v1 import files_service_pb2_grpc as files_grpc
from stackmesh.vector_io.v1 import vector_io_service_pb2 as pb
from stackmesh.vector_io.v1 import vector_io_service_pb2_grpc as pb_grpc
from stackmesh_common.call_context import ATTRIBUTES_HEADER, PRINCIPAL_HEADER, encode_attributes
from tests.e2e.test_bad_input import error_of
from tests.support.auth import create_key

MISSING_FILE = "file-" + "0" * 24
MISSING_STORE = "vs_" + "0" * 24
MISSING_BATCH = "vsfb_" + "0" * 24


@dataclass
class Tenant:
    """A caller with an API key: REST (`http`, `sdk`) and gRPC (`grpc_metadata`) through the
    auth gateway, and the identity headers a mesh peer would send to a service's own port."""

    principal: str
    attributes: dict[str, list[str]]
    http: httpx.Client
    sdk: openai.OpenAI
    grpc_metadata: tuple[tuple[str, str], ...]

    @property
    def service_metadata(self) -> tuple[tuple[str, str], ...]:
        return ((PRINCIPAL_HEADER, self.principal), (ATTRIBUTES_HEADER, encode_attributes(self.attributes)))


@dataclass
class Tenants:
    alice: Tenant
    carol: Tenant  # Alice's teammate
    bob: Tenant  # another tenant
    admin: Tenant


def tenant(stack, gateway, principal: str, **attributes: str | list[str]) -> Tenant:
    secret = create_key(stack, principal, **attributes)
    headers = {"authorization": f"Bearer {secret}"}
    return Tenant(
        principal=principal,
        attributes={name: [v] if isinstance(v, str) else list(v) for name, v in attributes.items()},
        http=httpx.Client(base_url=gateway.url, headers=headers, timeout=120),
        sdk=openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=secret, max_retries=0, timeout=120),
        grpc_metadata=(("authorization", f"Bearer {secret}"),),
    )


def make_tenants(stack, gateway) -> Iterator[Tenants]:
    """Fresh principals and teams, so nothing another test made is shared with them."""
    run = uuid.uuid4().hex[:8]
    team, other_team = f"red-{run}", f"blue-{run}"
    tenants = Tenants(
        alice=tenant(stack, gateway, f"alice-{run}", team=team),
        carol=tenant(stack, gateway, f"carol-{run}", team=team),
        bob=tenant(stack, gateway, f"bob-{run}", team=other_team),
        admin=tenant(stack, gateway, f"ops-{run}", roles=["admin"]),
    )
    yield tenants
    for one in (tenants.alice, tenants.carol, tenants.bob, tenants.admin):
        one.http.close()


def assert_hidden(send: Callable[[str], httpx.Response], real: str, missing: str) -> None:
    """`send` with the real id answers exactly what it answers with a missing id: a 404."""
    seen, absent = send(real), send(missing)
    assert seen.status_code == 404, seen.text
    assert absent.status_code == 404, absent.text
    expected = error_of(absent)
    assert error_of(seen) == {**expected, "message": expected["message"].replace(missing, real)}


def assert_unknown_cursor(send: Callable[[str], httpx.Response], real: str, missing: str) -> None:
    """A list page `after` an id the caller cannot see is refused like one after a missing id."""
    seen, absent = send(real), send(missing)
    assert seen.status_code == absent.status_code == 400, (seen.text, absent.text)
    expected = error_of(absent)
    assert error_of(seen) == {**expected, "message": expected["message"].replace(missing, real)}


def assert_grpc_hidden(call: Callable[[str], object], real: str, missing: str) -> None:
    """The gRPC twin of assert_hidden: NOT_FOUND with the same details as for a missing id."""
    errors = []
    for name in (real, missing):
        with pytest.raises(grpc.RpcError) as caught:
            call(name)
        errors.append(caught.value)
    assert [e.code() for e in errors] == [grpc.StatusCode.NOT_FOUND] * 2, [e.details() for e in errors]
    assert errors[0].details() == errors[1].details().replace(missing, real)


def upload(client: openai.OpenAI, text: str, name: str = "notes.txt", purpose: str = "assistants") -> str:
    return client.files.create(file=(name, io.BytesIO(text.encode())), purpose=purpose).id


def wait_ingested(client: openai.OpenAI, store_id: str, file_id: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while (status := client.vector_stores.files.retrieve(file_id, vector_store_id=store_id).status) == "in_progress":
        assert time.monotonic() < deadline, f"{file_id} is still being ingested"
        time.sleep(0.2)
    assert status == "completed", status


@dataclass
class Owned:
    file_id: str  # attached to store_id
    batch_file_id: str  # attached to store_id by batch_id
    store_id: str
    batch_id: str
    bob_file_id: str
    bob_store_id: str
    carol_store_id: str


@pytest.fixture(scope="module")
def tenants(stack, auth_gateway) -> Iterator[Tenants]:
    yield from make_tenants(stack, auth_gateway)


@pytest.fixture(scope="module")
def owned(tenants: Tenants) -> Owned:
    alice, bob, carol = tenants.alice.sdk, tenants.bob.sdk, tenants.carol.sdk
    file_id = upload(alice, "Ringfort is the capital of Isolationland.")
    batch_file_id = upload(alice, "Isolationland exports wool and slate.", "exports.txt")
    store = alice.vector_stores.create(name="alice's store", file_ids=[file_id], metadata={"tenant": "alice"})
    batch = alice.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=[batch_file_id])
    wait_ingested(alice, store.id, file_id)
    wait_ingested(alice, store.id, batch_file_id)
    return Owned(
        file_id=file_id,
        batch_file_id=batch_file_id,
        store_id=store.id,
        batch_id=batch.id,
        bob_file_id=upload(bob, "Bob's own notes."),
        bob_store_id=bob.vector_stores.create(name="bob's store").id,
        carol_store_id=carol.vector_stores.create(name="carol's store").id,
    )


def ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["data"]}


# Files.


def test_another_tenant_cannot_list_read_download_or_delete_a_file(tenants, owned):
    bob = tenants.bob.http
    assert ids(bob.get("/v1/files", params={"limit": 10000})) == {owned.bob_file_id}
    assert_hidden(lambda f: bob.get(f"/v1/files/{f}"), owned.file_id, MISSING_FILE)
    assert_hidden(lambda f: bob.get(f"/v1/files/{f}/content"), owned.file_id, MISSING_FILE)
    assert_hidden(lambda f: bob.delete(f"/v1/files/{f}"), owned.file_id, MISSING_FILE)
    assert_unknown_cursor(lambda f: bob.get("/v1/files", params={"after": f}), owned.file_id, MISSING_FILE)
    assert tenants.alice.http.get(f"/v1/files/{owned.file_id}").status_code == 200


def test_a_teammate_reads_and_downloads_a_file_but_cannot_delete_it(tenants, owned):
    carol = tenants.carol.http
    assert {owned.file_id, owned.batch_file_id} <= ids(carol.get("/v1/files", params={"limit": 10000}))
    assert carol.get(f"/v1/files/{owned.file_id}").json()["filename"] == "notes.txt"
    assert carol.get(f"/v1/files/{owned.file_id}/content").content == b"Ringfort is the capital of Isolationland."
    assert_hidden(lambda f: carol.delete(f"/v1/files/{f}"), owned.file_id, MISSING_FILE)
    after = carol.get("/v1/files", params={"after": owned.batch_file_id, "order": "asc"})
    assert after.status_code == 200, after.text


def test_an_admin_reads_every_tenants_files_and_the_owner_deletes_its_own(tenants, owned):
    admin, alice = tenants.admin.http, tenants.alice.http
    assert admin.get(f"/v1/files/{owned.file_id}").status_code == 200
    assert admin.get(f"/v1/files/{owned.bob_file_id}/content").content == b"Bob's own notes."
    assert {owned.file_id, owned.bob_file_id} <= ids(admin.get("/v1/files", params={"limit": 10000}))
    scratch = upload(tenants.alice.sdk, "scratch")
    assert ids(alice.get("/v1/files", params={"limit": 10000})) == {owned.file_id, owned.batch_file_id, scratch}
    deleted = alice.delete(f"/v1/files/{scratch}")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True


# Vector stores.


def test_another_tenant_cannot_list_read_change_or_search_a_store(tenants, owned):
    bob = tenants.bob.http
    store = owned.store_id
    assert ids(bob.get("/v1/vector_stores", params={"limit": 100})) == {owned.bob_store_id}
    assert_unknown_cursor(lambda s: bob.get("/v1/vector_stores", params={"after": s}), store, MISSING_STORE)
    assert_unknown_cursor(lambda s: bob.get("/v1/vector_stores", params={"before": s}), store, MISSING_STORE)
    for method, path, body in [
        ("GET", "/v1/vector_stores/{}", None),
        ("POST", "/v1/vector_stores/{}", {"name": "taken over"}),
        ("DELETE", "/v1/vector_stores/{}", None),
        ("POST", "/v1/vector_stores/{}/search", {"query": "capital"}),
        ("GET", "/v1/vector_stores/{}/files", None),
        ("POST", "/v1/vector_stores/{}/files", {"file_id": owned.bob_file_id}),
        ("GET", f"/v1/vector_stores/{{}}/files/{owned.file_id}", None),
        ("POST", f"/v1/vector_stores/{{}}/files/{owned.file_id}", {"attributes": {"k": "v"}}),
        ("DELETE", f"/v1/vector_stores/{{}}/files/{owned.file_id}", None),
        ("GET", f"/v1/vector_stores/{{}}/files/{owned.file_id}/content", None),
        ("POST", "/v1/vector_stores/{}/file_batches", {"file_ids": [owned.bob_file_id]}),
        ("GET", f"/v1/vector_stores/{{}}/file_batches/{owned.batch_id}", None),
        ("POST", f"/v1/vector_stores/{{}}/file_batches/{owned.batch_id}/cancel", None),
        ("GET", f"/v1/vector_stores/{{}}/file_batches/{owned.batch_id}/files", None),
    ]:
        assert_hidden(lambda s: bob.request(method, path.format(s), json=body), store, MISSING_STORE)
    chunk = {"content": "Bob was here.", "metadata": {"document_id": "bob"}}
    assert_hidden(lambda s: bob.post("/v1/vector-io/insert", json={"vector_store_id": s, "chunks": [chunk]}), store, MISSING_STORE)
    assert_hidden(lambda s: bob.post("/v1/vector-io/query", json={"vector_store_id": s, "query": "capital"}), store, MISSING_STORE)
    # Nothing changed.
    own = tenants.alice.http.get(f"/v1/vector_stores/{store}").json()
    assert own["name"] == "alice's store" and own["file_counts"]["total"] == 2


def test_another_tenants_file_cannot_be_attached_to_ones_own_store(tenants, owned):
    """Attaching a file one may not read is a 404 naming the file, as for a missing file."""
    bob = tenants.bob.http
    own = owned.bob_store_id
    assert_hidden(lambda f: bob.post(f"/v1/vector_stores/{own}/files", json={"file_id": f}), owned.file_id, MISSING_FILE)
    assert_hidden(lambda f: bob.post(f"/v1/vector_stores/{own}/file_batches", json={"file_ids": [f]}), owned.file_id, MISSING_FILE)
    assert_hidden(
        lambda f: bob.post(f"/v1/vector_stores/{own}/file_batches", json={"files": [{"file_id": f}]}), owned.file_id, MISSING_FILE
    )
    assert_hidden(lambda f: bob.post("/v1/vector_stores", json={"name": "stolen", "file_ids": [f]}), owned.file_id, MISSING_FILE)
    assert ids(bob.get(f"/v1/vector_stores/{own}/files")) == set()
    assert ids(bob.get("/v1/vector_stores", params={"limit": 100})) == {own}


def test_a_teammate_reads_and_searches_a_store_but_cannot_change_it(tenants, owned):
    carol = tenants.carol.http
    store = owned.store_id
    assert {store, owned.carol_store_id} <= ids(carol.get("/v1/vector_stores", params={"limit": 100}))
    assert carol.get(f"/v1/vector_stores/{store}").json()["file_counts"]["completed"] == 2
    hits = carol.post(f"/v1/vector_stores/{store}/search", json={"query": "capital of Isolationland", "max_num_results": 1})
    assert hits.status_code == 200 and hits.json()["data"][0]["file_id"] == owned.file_id
    assert ids(carol.get(f"/v1/vector_stores/{store}/files")) == {owned.file_id, owned.batch_file_id}
    assert carol.get(f"/v1/vector_stores/{store}/files/{owned.file_id}").json()["status"] == "completed"
    content = carol.get(f"/v1/vector_stores/{store}/files/{owned.file_id}/content")
    assert content.status_code == 200 and "Ringfort" in content.json()["data"][0]["text"]
    assert carol.get(f"/v1/vector_stores/{store}/file_batches/{owned.batch_id}").json()["id"] == owned.batch_id
    assert ids(carol.get(f"/v1/vector_stores/{store}/file_batches/{owned.batch_id}/files")) == {owned.batch_file_id}
    query = carol.post("/v1/vector-io/query", json={"vector_store_id": store, "query": "capital"})
    assert query.status_code == 200 and query.json()["chunks"]
    for method, path, body in [
        ("POST", "/v1/vector_stores/{}", {"name": "teammate's now"}),
        ("DELETE", "/v1/vector_stores/{}", None),
        ("POST", "/v1/vector_stores/{}/files", {"file_id": owned.file_id}),
        ("POST", f"/v1/vector_stores/{{}}/files/{owned.file_id}", {"attributes": {"k": "v"}}),
        ("DELETE", f"/v1/vector_stores/{{}}/files/{owned.file_id}", None),
        ("POST", "/v1/vector_stores/{}/file_batches", {"file_ids": [owned.file_id]}),
        ("POST", f"/v1/vector_stores/{{}}/file_batches/{owned.batch_id}/cancel", None),
    ]:
        assert_hidden(lambda s: carol.request(method, path.format(s), json=body), store, MISSING_STORE)
    chunk = {"content": "Carol was here.", "metadata": {"document_id": "carol"}}
    assert_hidden(lambda s: carol.post("/v1/vector-io/insert", json={"vector_store_id": s, "chunks": [chunk]}), store, MISSING_STORE)
    assert tenants.alice.http.get(f"/v1/vector_stores/{store}/files/{owned.file_id}").json()["attributes"] == {}


def test_a_teammate_may_attach_a_file_it_can_read_to_its_own_store(tenants, owned):
    carol = tenants.carol.http
    attached = carol.post(f"/v1/vector_stores/{owned.carol_store_id}/files", json={"file_id": owned.file_id})
    assert attached.status_code == 200, attached.text
    assert attached.json()["status"] in ("in_progress", "completed")
    # Alice's store is not carol's to change, whatever file she offers.
    assert carol.post(f"/v1/vector_stores/{owned.store_id}/files", json={"file_id": owned.file_id}).status_code == 404


def test_an_admin_reads_every_tenants_stores(tenants, owned):
    admin = tenants.admin.http
    assert {owned.store_id, owned.bob_store_id, owned.carol_store_id} <= ids(admin.get("/v1/vector_stores", params={"limit": 100}))
    assert admin.get(f"/v1/vector_stores/{owned.store_id}").status_code == 200
    assert admin.post(f"/v1/vector_stores/{owned.store_id}/search", json={"query": "wool"}).status_code == 200
    assert admin.get(f"/v1/vector_stores/{owned.store_id}/file_batches/{owned.batch_id}").status_code == 200


def test_the_owner_changes_searches_and_deletes_its_store(tenants, owned):
    alice = tenants.alice
    store = owned.store_id
    # Her teammate's store is shared with her too.
    assert ids(alice.http.get("/v1/vector_stores", params={"limit": 100})) == {store, owned.carol_store_id}
    updated = alice.http.post(f"/v1/vector_stores/{store}", json={"metadata": {"tenant": "alice", "checked": "yes"}})
    assert updated.status_code == 200 and updated.json()["metadata"]["checked"] == "yes"
    tagged = alice.http.post(f"/v1/vector_stores/{store}/files/{owned.batch_file_id}", json={"attributes": {"kind": "trade"}})
    assert tagged.status_code == 200 and tagged.json()["attributes"] == {"kind": "trade"}
    hits = alice.http.post(f"/v1/vector_stores/{store}/search", json={"query": "wool", "filters": {"type": "eq", "key": "kind", "value": "trade"}})
    assert [h["file_id"] for h in hits.json()["data"]] == [owned.batch_file_id]
    assert alice.http.post(f"/v1/vector_stores/{store}/file_batches/{owned.batch_id}/cancel").status_code == 200
    # A store and file of its own, made and removed whole.
    scratch_file = upload(alice.sdk, "temporary text")
    scratch = alice.http.post("/v1/vector_stores", json={"name": "scratch", "file_ids": [scratch_file]}).json()["id"]
    assert alice.http.delete(f"/v1/vector_stores/{scratch}/files/{scratch_file}").status_code == 200
    assert alice.http.delete(f"/v1/vector_stores/{scratch}").json()["deleted"] is True
    assert alice.http.delete(f"/v1/files/{scratch_file}").json()["deleted"] is True


# gRPC through the gateway and on the service's own port.


def test_grpc_through_the_gateway_hides_and_shares_alike(tenants, owned, auth_gateway):
    with grpc.insecure_channel(auth_gateway.grpc_address) as channel:
        stores, files = pb_grpc.VectorStoresServiceStub(channel), files_grpc.FilesServiceStub(channel)
        bob, carol = tenants.bob.grpc_metadata, tenants.carol.grpc_metadata

        listed = stores.ListVectorStores(pb.ListVectorStoresRequest(limit=100), metadata=bob, timeout=30)
        assert {s.id for s in listed.data} == {owned.bob_store_id}
        assert {f.id for f in files.ListFiles(files_pb.ListFilesRequest(), metadata=bob, timeout=30).data} == {owned.bob_file_id}
        for call in (
            lambda s: stores.GetVectorStore(pb.GetVectorStoreRequest(vector_store_id=s), metadata=bob, timeout=30),
            lambda s: stores.DeleteVectorStore(pb.DeleteVectorStoreRequest(vector_store_id=s), metadata=bob, timeout=30),
            lambda s: stores.ListVectorStoreFiles(pb.ListVectorStoreFilesRequest(vector_store_id=s), metadata=bob, timeout=30),
            lambda s: stores.DeleteVectorStore(pb.DeleteVectorStoreRequest(vector_store_id=s), metadata=carol, timeout=30),
        ):
            assert_grpc_hidden(call, owned.store_id, MISSING_STORE)
        search = pb.SearchVectorStoreRequest(vector_store_id=owned.store_id)
        search.query.string_value = "capital"
        with pytest.raises(grpc.RpcError) as caught:
            stores.SearchVectorStore(search, metadata=bob, timeout=30)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        for call in (
            lambda f: files.GetFile(files_pb.GetFileRequest(file_id=f), metadata=bob, timeout=30),
            lambda f: files.DeleteFile(files_pb.DeleteFileRequest(file_id=f), metadata=bob, timeout=30),
            lambda f: files.DeleteFile(files_pb.DeleteFileRequest(file_id=f), metadata=carol, timeout=30),
            lambda f: b"".join(
                c.data for c in files.RetrieveFileContent(files_pb.RetrieveFileContentRequest(file_id=f), metadata=bob, timeout=30)
            ),
        ):
            assert_grpc_hidden(call, owned.file_id, MISSING_FILE)

        assert stores.GetVectorStore(pb.GetVectorStoreRequest(vector_store_id=owned.store_id), metadata=carol, timeout=30).name == "alice's store"
        assert stores.SearchVectorStore(search, metadata=carol, timeout=30).data
        assert files.GetFile(files_pb.GetFileRequest(file_id=owned.file_id), metadata=carol, timeout=30).id == owned.file_id
        admin = tenants.admin.grpc_metadata
        assert stores.GetVectorStore(pb.GetVectorStoreRequest(vector_store_id=owned.store_id), metadata=admin, timeout=30).id == owned.store_id


def test_the_service_port_applies_the_callers_identity(stack, tenants, owned):
    """What a mesh peer sends (principal and attributes headers) decides, as at the gateway."""
    with grpc.insecure_channel(stack.service_address("vector_io")) as channel:
        stores, files = pb_grpc.VectorStoresServiceStub(channel), files_grpc.FilesServiceStub(channel)
        get = pb.GetVectorStoreRequest(vector_store_id=owned.store_id)
        assert stores.GetVectorStore(get, metadata=tenants.alice.service_metadata, timeout=30).id == owned.store_id
        assert stores.GetVectorStore(get, metadata=tenants.carol.service_metadata, timeout=30).id == owned.store_id
        assert stores.GetVectorStore(get, metadata=tenants.admin.service_metadata, timeout=30).id == owned.store_id
        bob = tenants.bob.service_metadata
        assert_grpc_hidden(
            lambda s: stores.GetVectorStore(pb.GetVectorStoreRequest(vector_store_id=s), metadata=bob, timeout=30), owned.store_id, MISSING_STORE
        )
        assert_grpc_hidden(lambda f: files.GetFile(files_pb.GetFileRequest(file_id=f), metadata=bob, timeout=30), owned.file_id, MISSING_FILE)
        # No identity at all is the anonymous caller, who owns none of it.
        assert_grpc_hidden(
            lambda s: stores.GetVectorStore(pb.GetVectorStoreRequest(vector_store_id=s), timeout=30), owned.store_id, MISSING_STORE
        )


def test_rows_record_their_owner_and_the_owners_attributes(stack, tenants, owned):
    alice = tenants.alice
    with psycopg.connect(stack.config.postgres.url) as conn:
        file = conn.execute("SELECT owner, owner_attributes FROM vector_io.files WHERE id = %s", (owned.file_id,)).fetchone()
        store = conn.execute("SELECT owner, owner_attributes FROM vector_io.vector_stores WHERE id = %s", (owned.store_id,)).fetchone()
        batch = conn.execute(
            "SELECT owner, owner_attributes FROM vector_io.vector_store_file_batches WHERE id = %s", (owned.batch_id,)
        ).fetchone()
    assert file == store == batch == (alice.principal, alice.attributes)
