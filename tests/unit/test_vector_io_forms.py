"""vector_io request shapes: search filters, file attributes, streamed multipart uploads."""

from __future__ import annotations

import httpx
import pytest

from stackmesh_common.errors import InvalidArgument, PayloadTooLarge
from stackmesh_vector_io.filters import MAX_COMPARISONS, MAX_LIST_VALUES, Comparison, Compound, check_attributes, parse_filter
from stackmesh_vector_io.multipart import MAX_FIELD_BYTES, MAX_HEADER_BYTES, MAX_PARTS, MultipartUpload


def test_filters_parse_into_typed_trees():
    raw = {"type": "and", "filters": [{"type": "eq", "key": "lang", "value": "en"}, {"type": "in", "key": "year", "value": [2023, 2024]}]}
    assert parse_filter(raw) == Compound(
        "and", (Comparison("eq", "lang", "en"), Comparison("in", "year", (2023.0, 2024.0)))
    )


@pytest.mark.parametrize(
    "raw, param",
    [
        ("lang = en", "filters"),
        ({"key": "a", "value": 1}, "filters.type"),
        ({"type": "like", "key": "a", "value": 1}, "filters.type"),
        ({"type": "eq", "value": 1}, "filters.key"),
        ({"type": "eq", "key": "a"}, "filters"),
        ({"type": "eq", "key": "a", "value": {"x": 1}}, "filters.value"),
        ({"type": "gt", "key": "a", "value": True}, "filters.value"),
        ({"type": "in", "key": "a", "value": []}, "filters.value"),
        ({"type": "and", "filters": []}, "filters"),
        ({"type": "or", "filters": [{"type": "eq", "key": "a"}]}, "filters.filters[0]"),
        ({"type": "eq", "key": 'a"b', "value": 1}, "filters.key"),
        ({"type": "eq", "key": "a\x00b", "value": 1}, "filters.key"),
        ({"type": "eq", "key": "a\tb", "value": 1}, "filters.key"),
        ({"type": "eq", "key": "a", "value": "x\x00"}, "filters.value"),
        ({"type": "gt", "key": "a", "value": "\x1b[31m"}, "filters.value"),
        ({"type": "nin", "key": "a", "value": ["ok", "\x7f"]}, "filters.value[1]"),
        ({"type": "and", "filters": [{"type": "eq", "key": "a", "value": "\x00"}]}, "filters.filters[0].value"),
        ({"type": "in", "key": "a", "value": list(range(MAX_LIST_VALUES + 1))}, "filters.value"),
    ],
)
def test_bad_filters_are_invalid_arguments_naming_the_spot(raw, param):
    with pytest.raises(InvalidArgument) as caught:
        parse_filter(raw)
    assert caught.value.param == param


def test_filter_values_keep_tabs_and_line_breaks():
    assert parse_filter({"type": "eq", "key": "a", "value": "x\ty\r\nz"}) == Comparison("eq", "a", "x\ty\r\nz")


def test_a_filter_holds_at_most_1000_comparisons_however_nested():
    leaves = [{"type": "eq", "key": "k", "value": i} for i in range(MAX_COMPARISONS)]
    assert len(parse_filter({"type": "or", "filters": leaves}).filters) == MAX_COMPARISONS  # type: ignore[union-attr]
    split = {"type": "and", "filters": [{"type": "or", "filters": leaves[:600]}, {"type": "or", "filters": leaves[600:] + leaves[:1]}]}
    with pytest.raises(InvalidArgument) as caught:
        parse_filter(split)
    assert caught.value.param == "filters" and str(MAX_COMPARISONS) in caught.value.message
    # A list is one comparison, however long.
    assert parse_filter({"type": "in", "key": "k", "value": list(range(MAX_LIST_VALUES))})


def test_attributes_take_at_most_16_scalar_values():
    assert check_attributes({"a": "x", "b": 1, "c": True}) == {"a": "x", "b": 1, "c": True}
    with pytest.raises(InvalidArgument, match="at most 16 keys"):
        check_attributes({f"k{i}": i for i in range(17)})
    with pytest.raises(InvalidArgument) as caught:
        check_attributes({"nested": {"x": 1}})
    assert caught.value.param == "attributes.nested"
    with pytest.raises(InvalidArgument):
        check_attributes({"long": "x" * 513})


@pytest.mark.parametrize(
    "attributes, param",
    [({"k": "a\x00"}, "attributes.k"), ({"k\x00": "a"}, "attributes"), ({"k\n": "a"}, "attributes"), ({"k": "\x08"}, "attributes.k")],
)
def test_attributes_refuse_control_characters(attributes, param):
    with pytest.raises(InvalidArgument) as caught:
        check_attributes(attributes)
    assert caught.value.param == param and "control characters" in caught.value.message


class MemoryWriter:
    def __init__(self) -> None:
        self.data = bytearray()
        self.state = "open"

    async def write(self, data: bytes) -> None:
        self.data.extend(data)

    async def commit(self) -> None:
        self.state = "committed"

    async def abort(self) -> None:
        self.state = "aborted"


def multipart_body(fields: dict[str, str], file: tuple[str, bytes, str]) -> tuple[str, bytes]:
    """The body httpx (and so the openai SDK) sends for these fields and file."""
    request = httpx.Request("POST", "http://x", data=fields, files={"file": file})
    return request.headers["content-type"], request.read()


async def upload(content_type: str, body: bytes, piece: int, limit: int = 1 << 20) -> tuple[MultipartUpload, MemoryWriter]:
    writer = MemoryWriter()

    async def open_writer() -> MemoryWriter:
        return writer

    form = MultipartUpload(content_type, open_writer, limit)
    try:
        for start in range(0, len(body), piece):
            await form.feed(body[start : start + piece])
        await form.finish()
    except BaseException:
        await form.abort()
        raise
    return form, writer


@pytest.mark.parametrize("piece", [1, 7, 64, 1 << 20])
async def test_multipart_streams_the_file_whatever_the_piece_size(piece):
    content = bytes(range(256)) * 40
    content_type, body = multipart_body(
        {"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"},
        ("data.bin", content, "application/octet-stream"),
    )
    form, writer = await upload(content_type, body, piece)
    assert bytes(writer.data) == content and writer.state == "committed"
    assert form.file is not None and form.file.filename == "data.bin" and form.file.size == len(content)
    assert form.file.content_type == "application/octet-stream"
    assert form.fields == {"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"}


async def test_multipart_names_outside_latin_1_are_read_as_utf_8():
    """Browsers send a part's name and filename as raw UTF-8; "文件.txt" was once a 500."""
    body = (
        '--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
        '--b\r\nContent-Disposition: form-data; name="名"\r\n\r\nv\r\n'
        '--b\r\nContent-Disposition: form-data; name="file"; filename="文件.txt"\r\n\r\nhi\r\n--b--\r\n'
    ).encode()
    form, writer = await upload("multipart/form-data; boundary=b", body, 64)
    assert form.file is not None and form.file.filename == "文件.txt" and bytes(writer.data) == b"hi"
    assert form.fields == {"purpose": "assistants", "名": "v"}


async def test_multipart_without_a_file_part_is_refused():
    request = httpx.Request("POST", "http://x", data={"purpose": "assistants"}, files={"document": ("a.txt", b"x")})
    content_type, body = request.headers["content-type"], request.read()
    with pytest.raises(InvalidArgument, match="`file` is required"):
        await upload(content_type, body, 64)


async def test_multipart_over_the_limit_aborts_the_write():
    content_type, body = multipart_body({"purpose": "assistants"}, ("big.txt", b"x" * 5000, "text/plain"))
    with pytest.raises(PayloadTooLarge):
        await upload(content_type, body, 512, limit=4096)


async def test_truncated_multipart_is_refused():
    content_type, body = multipart_body({"purpose": "assistants"}, ("a.txt", b"hello", "text/plain"))
    with pytest.raises(InvalidArgument, match="before its closing boundary"):
        await upload(content_type, body[:-20], 64)


def test_a_body_that_is_not_multipart_is_refused():
    with pytest.raises(InvalidArgument, match="multipart/form-data"):
        MultipartUpload("application/json", lambda: None, 10)  # type: ignore[arg-type,return-value]


def raw_body(parts: list[bytes]) -> tuple[str, bytes]:
    """A multipart body of `parts` (each headers, a blank line and a value) and a file part."""
    file = b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello'
    body = b"".join(b"--B\r\n" + part + b"\r\n" for part in [*parts, file]) + b"--B--\r\n"
    return "multipart/form-data; boundary=B", body


async def test_multipart_refuses_more_parts_than_the_limit():
    fields = [b'Content-Disposition: form-data; name="f%d"\r\n\r\nx' % i for i in range(MAX_PARTS)]
    with pytest.raises(InvalidArgument) as caught:
        await upload(*raw_body(fields), 4096)
    assert f"more than {MAX_PARTS} form parts" in caught.value.message
    form, _ = await upload(*raw_body(fields[: MAX_PARTS - 1]), 4096)
    assert len(form.fields) == MAX_PARTS - 1


async def test_multipart_field_over_the_limit_is_payload_too_large():
    field = b'Content-Disposition: form-data; name="purpose"\r\n\r\n' + b"x" * (MAX_FIELD_BYTES + 1)
    with pytest.raises(PayloadTooLarge) as caught:
        await upload(*raw_body([field]), 4096)
    assert caught.value.param == "purpose"


@pytest.mark.parametrize(
    "part, words",
    [
        (b'Content-Disposition: form-data; name="purpose"; x="' + b"y" * MAX_HEADER_BYTES + b'"\r\n\r\nv', "header size"),
        (b"".join(b"X-H%d: v\r\n" % i for i in range(20)) + b'Content-Disposition: form-data; name="p"\r\n\r\nv', "header count"),
    ],
)
async def test_multipart_part_headers_are_bounded(part, words):
    with pytest.raises(InvalidArgument) as caught:
        await upload(*raw_body([part]), 4096)
    assert words in caught.value.message
