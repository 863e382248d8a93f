"""The OpenAI Files API through the gateway with the unmodified openai SDK, and over gRPC."""

from __future__ import annotations

import hashlib
import io
import os
import socket
from urllib.parse import urlsplit

import grpc
import httpx
import openai
import pytest

from stackmesh.vector_io.v1 import file_pb2
from stackmesh.vector_io.v1 import files_service_pb2 as pb
from stackmesh.vector_io.v1 import files_service_pb2_grpc as pb_grpc
from stackmesh_vector_io.multipart import MAX_FIELD_BYTES, MAX_HEADER_BYTES, MAX_PARTS
from tests.e2e.test_bad_input import error_of


def post_multipart(stack, parts: list[bytes]) -> httpx.Response:
    """POST /v1/files with a hand-built body: each part is its headers, a blank line and its value."""
    body = b"".join(b"--B\r\n" + part + b"\r\n" for part in parts) + b"--B--\r\n"
    return httpx.post(
        f"{stack.gateway_url}/v1/files", content=body, headers={"content-type": "multipart/form-data; boundary=B"}, timeout=60
    )


PURPOSE = b'Content-Disposition: form-data; name="purpose"\r\n\r\nassistants'
A_FILE = b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello'


def test_upload_retrieve_list_content_delete(client):
    uploaded = client.files.create(file=("notes.txt", io.BytesIO(b"hello files")), purpose="assistants")
    assert uploaded.id.startswith("file-") and uploaded.object == "file"
    assert (uploaded.filename, uploaded.bytes, uploaded.purpose) == ("notes.txt", 11, "assistants")
    assert uploaded.expires_at is None
    assert client.files.retrieve(uploaded.id) == uploaded
    assert uploaded.id in {f.id for f in client.files.list()}
    assert client.files.content(uploaded.id).read() == b"hello files"
    deleted = client.files.delete(uploaded.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (uploaded.id, True, "file")
    with pytest.raises(openai.NotFoundError) as caught:
        client.files.retrieve(uploaded.id)
    assert caught.value.code == "not_found" and uploaded.id in caught.value.message


def test_a_file_larger_than_the_json_body_limit_streams_through_unchanged(client, stack):
    """The upload route skips the gateway's request buffer: 20 MiB goes through its 8 MiB limit."""
    content = os.urandom(20 * 1024 * 1024)
    assert len(content) > stack.config.gateway.max_request_bytes
    uploaded = client.files.create(file=("blob.bin", io.BytesIO(content)), purpose="user_data")
    assert uploaded.bytes == len(content)
    downloaded = client.files.content(uploaded.id)
    assert downloaded.response.headers["content-type"] == "application/octet-stream"
    assert hashlib.sha256(downloaded.read()).digest() == hashlib.sha256(content).digest()
    client.files.delete(uploaded.id)


def test_content_type_of_the_part_is_kept(client):
    uploaded = client.files.create(file=("rows.jsonl", io.BytesIO(b'{"a": 1}\n'), "application/jsonl"), purpose="batch")
    assert client.files.content(uploaded.id).response.headers["content-type"] == "application/jsonl"


def test_uploaded_html_comes_back_as_a_download_not_a_page(client):
    """A browser following the content URL must not render an uploader's HTML on our origin."""
    uploaded = client.files.create(file=("page.html", io.BytesIO(b"<script>alert(1)</script>"), "text/html"), purpose="user_data")
    headers = client.files.content(uploaded.id).response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"] == "attachment"


def test_a_list_without_limit_is_a_page_of_20(client, stack):
    for i in range(21):
        client.files.create(file=(f"v{i}.txt", io.BytesIO(b"v")), purpose="vision")
    page = httpx.get(f"{stack.gateway_url}/v1/files", params={"purpose": "vision"}, timeout=30).json()
    assert len(page["data"]) == 20 and page["has_more"] is True


def test_expires_after_sets_expires_at(client):
    uploaded = client.files.create(
        file=("short.txt", io.BytesIO(b"x")), purpose="user_data", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    assert uploaded.expires_at == uploaded.created_at + 3600


def test_list_pages_orders_and_filters_by_purpose(client):
    ids = [client.files.create(file=(f"p{i}.txt", io.BytesIO(b"p")), purpose="evals").id for i in range(3)]
    # Iterating a page follows `after` cursors to the end.
    assert [f.id for f in client.files.list(purpose="evals", limit=2)][:3] == ids[::-1]
    oldest_first = [f.id for f in client.files.list(purpose="evals", limit=100, order="asc")]
    page = client.files.list(purpose="evals", limit=2, order="asc")
    assert page.has_more is True and len(page.data) == 2
    rest = client.files.list(purpose="evals", limit=100, order="asc", after=page.data[-1].id)
    assert [f.id for f in page.data + rest.data] == oldest_first
    assert all(f.purpose == "evals" for f in client.files.list(purpose="evals", limit=100))
    assert not set(ids) & {f.id for f in client.files.list(purpose="batch", limit=100)}


def test_grpc_callers_upload_typed_chunks(stack):
    with grpc.insecure_channel(stack.service_address("vector_io")) as channel:
        stub = pb_grpc.FilesServiceStub(channel)
        messages = [
            pb.UploadFileRequest(metadata=pb.UploadFileMetadata(filename="g.txt", purpose="assistants", content_type="text/plain")),
            pb.UploadFileRequest(chunk=b"hello "),
            pb.UploadFileRequest(chunk=b"grpc"),
        ]
        uploaded = stub.UploadFile(iter(messages), timeout=30)
        assert isinstance(uploaded, file_pb2.File) and uploaded.bytes == 10
        body = b"".join(piece.data for piece in stub.RetrieveFileContent(pb.RetrieveFileContentRequest(file_id=uploaded.id), timeout=30))
        assert body == b"hello grpc"
        with pytest.raises(grpc.RpcError) as caught:
            stub.UploadFile(iter([pb.UploadFileRequest(chunk=b"no metadata")]), timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# Bad input.


def test_unknown_file_ids_are_404(client, stack):
    for call in (client.files.retrieve, client.files.delete, lambda i: client.files.content(i).read()):
        with pytest.raises(openai.NotFoundError) as caught:
            call("file-doesnotexist")
        assert caught.value.param == "file_id"


@pytest.mark.parametrize(
    "data, param",
    [
        ({"purpose": "homework"}, "purpose"),
        ({}, "purpose"),
        ({"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "60"}, "expires_after.seconds"),
        ({"purpose": "assistants", "expires_after[anchor]": "now", "expires_after[seconds]": "3600"}, "expires_after.anchor"),
        ({"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "soon"}, "expires_after[seconds]"),
    ],
)
def test_bad_form_fields_are_400_naming_the_field(stack, data, param):
    response = httpx.post(f"{stack.gateway_url}/v1/files", data=data, files={"file": ("a.txt", b"abc")}, timeout=30)
    assert response.status_code == 400, response.text
    assert error_of(response)["param"] == param


def test_an_upload_without_a_file_part_is_400(stack):
    response = httpx.post(f"{stack.gateway_url}/v1/files", data={"purpose": "assistants"}, files={"other": ("a.txt", b"x")}, timeout=30)
    assert response.status_code == 400
    assert "`file` is required" in error_of(response)["message"]


def test_a_body_that_is_not_multipart_is_400(stack):
    response = httpx.post(f"{stack.gateway_url}/v1/files", json={"purpose": "assistants"}, timeout=30)
    assert response.status_code == 400
    assert "multipart/form-data" in error_of(response)["message"]


def test_a_declared_size_over_the_limit_is_413_before_any_byte_is_read(stack):
    """The gateway refuses on the Content-Length header alone (none of the declared body is sent)."""
    url = urlsplit(stack.gateway_url)
    declared = stack.config.gateway.max_upload_bytes + 1
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            f"POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {declared}\r\n\r\n".encode()
        )
        reply = sock.recv(65536).decode()
    head, _, body = reply.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413")
    error = httpx.Response(413, content=body.encode()).json()["error"]
    assert error["code"] == "request_too_large" and str(declared) in error["message"]


@pytest.mark.parametrize(
    "part, words",
    [
        (b'Content-Disposition: form-data; name="file"; filename="a\x00b.txt"\r\n\r\nhi', "the filename of `file`"),
        (b'Content-Disposition: form-data; name="file"; filename="\x1b[31mred.txt"\r\n\r\nhi', "the filename of `file`"),
        (b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/pl\x00ain\r\n\r\nhi', "the content type of `file`"),
    ],
    ids=["nul", "escape", "nul-in-content-type"],
)
def test_control_characters_in_the_file_part_are_400(stack, part, words):
    response = post_multipart(stack, [PURPOSE, part])
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["param"] == "file" and words in error["message"] and "control characters" in error["message"]


def test_a_grpc_upload_with_a_control_character_in_its_filename_is_invalid(stack):
    with grpc.insecure_channel(stack.service_address("vector_io")) as channel:
        messages = [
            pb.UploadFileRequest(metadata=pb.UploadFileMetadata(filename="a\x00b.txt", purpose="assistants")),
            pb.UploadFileRequest(chunk=b"x"),
        ]
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.FilesServiceStub(channel).UploadFile(iter(messages), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "filename" in caught.value.details()


def test_an_upload_of_too_many_parts_is_400(stack):
    """200 small fields were once accepted; OpenAI's upload has four parts."""
    fields = [b'Content-Disposition: form-data; name="f%d"\r\n\r\nx' % i for i in range(200)]
    response = post_multipart(stack, [PURPOSE, *fields, A_FILE])
    assert response.status_code == 400, response.text
    assert f"more than {MAX_PARTS} form parts" in error_of(response)["message"]


def test_an_oversized_form_field_is_413(stack):
    field = b'Content-Disposition: form-data; name="notes"\r\n\r\n' + b"x" * 60_000
    response = post_multipart(stack, [PURPOSE, field, A_FILE])
    assert response.status_code == 413, response.text
    error = error_of(response)
    assert error["param"] == "notes" and error["code"] == "request_too_large" and str(MAX_FIELD_BYTES) in error["message"]


def test_an_oversized_part_header_is_400(stack):
    long_name = b"n" * MAX_HEADER_BYTES + b".txt"
    response = post_multipart(stack, [PURPOSE, b'Content-Disposition: form-data; name="file"; filename="' + long_name + b'"\r\n\r\nhi'])
    assert response.status_code == 400, response.text
    assert "header size" in error_of(response)["message"]
