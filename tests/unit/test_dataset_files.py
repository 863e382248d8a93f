"""Dataset sources, file formats and purposes: what is read, and the errors a user sees."""

from __future__ import annotations

import base64
import datetime
import io
import json
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stackmesh_common.errors import InvalidArgument, NotFound, PayloadTooLarge
from stackmesh_eval.datasets.formats import FORMATS, MalformedDataset, detect_format, iter_rows
from stackmesh_eval.datasets.purposes import PURPOSES, check_purpose, normalize_row
from stackmesh_eval.datasets.sources import FetchedSource, SourceLimits, fetch_source

CSV_BODY = b"question,answer\nWhat is 2+2?,4\n"


def rows_of(path: Path, fmt: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [row for batch in iter_rows(path, fmt, **kwargs) for row in batch]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- detect_format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "head", "expected"),
    [
        ("data.CSV", None, b"", "csv"),
        ("/datasets/train.ndjson", "text/plain", b"", "jsonl"),
        ("x.pq", None, b"", "parquet"),
        ("", "text/csv; charset=utf-8", b"{", "csv"),
        ("blob", "application/x-ndjson", b"", "jsonl"),
        ("", "application/vnd.apache.parquet", b"", "parquet"),
        ("", None, b"PAR1\x15\x04", "parquet"),
        ("", "application/octet-stream", b"\xef\xbb\xbf \n{\"a\": 1}", "jsonl"),
    ],
)
def test_format_comes_from_extension_then_content_type_then_content(name, content_type, head, expected):
    """The extension wins over the content type, which wins over sniffing the first bytes."""
    assert detect_format(name, content_type, head) == expected


def test_an_unknown_format_names_what_was_seen_and_what_is_supported():
    """An unrecognizable source says its name, type and first bytes, and lists the formats."""
    with pytest.raises(InvalidArgument) as caught:
        detect_format("notes.txt", "text/plain", b"hello")
    message = caught.value.message
    assert caught.value.param == "source.uri"
    assert message.startswith("cannot tell the dataset's format (name 'notes.txt', content type 'text/plain', content starting b'hello')")
    assert all(fmt in message for fmt in FORMATS)


# --- CSV -----------------------------------------------------------------------------------


def test_csv_rows_are_string_dicts_keyed_by_the_header(tmp_path):
    """Values stay strings; quoted commas and newlines survive; blank lines are skipped."""
    path = write(tmp_path, "d.csv", b'\xef\xbb\xbfquestion,answer\r\n"a, b",1\r\n\r\n"multi\nline",""\r\n')
    assert rows_of(path, "csv") == [{"question": "a, b", "answer": "1"}, {"question": "multi\nline", "answer": ""}]


@pytest.mark.parametrize("data", [b"", b"question,answer\n"])
def test_an_empty_or_header_only_csv_has_no_rows(tmp_path, data):
    """No data rows is zero batches, not an error."""
    assert list(iter_rows(write(tmp_path, "d.csv", data), "csv")) == []


def test_a_csv_row_with_the_wrong_field_count_names_its_line(tmp_path):
    """The line number counts the header as line 1."""
    path = write(tmp_path, "d.csv", b"question,answer\nq1,a1\nq2,a2\nq3,a3,extra\n")
    with pytest.raises(MalformedDataset) as caught:
        rows_of(path, "csv")
    assert caught.value.message == "the CSV file is malformed: line 4 has 3 fields, the header has 2"
    assert caught.value.param == "source.uri"


def test_a_csv_with_invalid_utf8_names_its_line(tmp_path):
    """Bytes that are not UTF-8 are reported with their line and column."""
    path = write(tmp_path, "d.csv", b"question,answer\nq1,a1\nq\xff,a2\n")
    with pytest.raises(MalformedDataset) as caught:
        rows_of(path, "csv")
    assert caught.value.message == "the CSV file is malformed: line 3 is not valid UTF-8 (byte 0xff at column 2)"


def test_a_csv_header_naming_a_column_twice_is_malformed(tmp_path):
    """Duplicate columns would silently drop values, so they are refused."""
    path = write(tmp_path, "d.csv", b"answer,answer\n1,2\n")
    with pytest.raises(MalformedDataset, match="the header names column\\(s\\) 'answer' more than once"):
        rows_of(path, "csv")


def test_csv_rows_come_in_batches_of_the_requested_size(tmp_path):
    """Five rows in batches of two are 2, 2, 1, in file order."""
    path = write(tmp_path, "d.csv", b"n\n" + b"".join(f"{i}\n".encode() for i in range(5)))
    batches = list(iter_rows(path, "csv", batch_rows=2))
    assert [[row["n"] for row in batch] for batch in batches] == [["0", "1"], ["2", "3"], ["4"]]


# --- JSONL ---------------------------------------------------------------------------------


def test_jsonl_rows_keep_their_json_types_and_skip_blank_lines(tmp_path):
    """Numbers, lists and nulls come through as parsed; blank lines are not rows."""
    path = write(tmp_path, "d.jsonl", b'{"a": 1, "b": [1, "x"]}\n\n   \n{"a": null}\n')
    assert rows_of(path, "jsonl") == [{"a": 1, "b": [1, "x"]}, {"a": None}]


def test_jsonl_rows_come_in_batches(tmp_path):
    """Seven rows in batches of three are 3, 3, 1."""
    path = write(tmp_path, "d.jsonl", b"".join(json.dumps({"i": i}).encode() + b"\n" for i in range(7)))
    assert [len(batch) for batch in iter_rows(path, "jsonl", batch_rows=3)] == [3, 3, 1]


def test_a_jsonl_line_that_is_not_json_names_the_line_and_the_parser_message(tmp_path):
    """The line number and the JSON parser's own message are both in the error."""
    path = write(tmp_path, "d.jsonl", b'{"a": 1}\n\n{"a": }\n')
    with pytest.raises(MalformedDataset) as caught:
        rows_of(path, "jsonl")
    assert caught.value.message == "the JSONL file is malformed: line 3 is not valid JSON: Expecting value at column 7"


def test_a_jsonl_line_that_is_not_an_object_names_what_it_is(tmp_path):
    """A JSON array is valid JSON but not a row."""
    path = write(tmp_path, "d.jsonl", b'{"a": 1}\n[1, 2]\n')
    with pytest.raises(MalformedDataset) as caught:
        rows_of(path, "jsonl")
    assert caught.value.message == "the JSONL file is malformed: line 2 is a JSON array, expected an object"


def test_jsonl_refuses_nan_which_json_does_not_have(tmp_path):
    """Python's json accepts NaN; the rows go to Postgres jsonb, which does not."""
    path = write(tmp_path, "d.jsonl", b'{"a": NaN}\n')
    with pytest.raises(MalformedDataset, match="line 1 is not valid JSON: NaN is not a JSON value"):
        rows_of(path, "jsonl")


# --- Parquet -------------------------------------------------------------------------------


def test_parquet_values_become_json_values(tmp_path):
    """Ints, floats, strings, lists, timestamps, nulls, bytes, decimals and structs come out JSON-able."""
    table = pa.table(
        {
            "i": pa.array([1, None], pa.int64()),
            "f": pa.array([1.5, float("nan")], pa.float64()),
            "s": pa.array(["x", None], pa.string()),
            "l": pa.array([[1, 2], []], pa.list_(pa.int32())),
            "t": pa.array([datetime.datetime(2024, 5, 1, 12, 30), None], pa.timestamp("us")),
            "tz": pa.array([1_700_000_000_123_456_789, None], pa.timestamp("ns", tz="UTC")),
            "d": pa.array([datetime.date(2024, 5, 1), None], pa.date32()),
            "b": pa.array([b"hi", b"\xff\x00"], pa.binary()),
            "dec": pa.array([Decimal("1.25"), None], pa.decimal128(5, 2)),
            "st": pa.array([{"k": "v", "n": [1.0]}, None], pa.struct([("k", pa.string()), ("n", pa.list_(pa.float64()))])),
        }
    )
    pq.write_table(table, tmp_path / "d.parquet")
    rows = rows_of(tmp_path / "d.parquet", "parquet")
    assert rows == [
        {
            "i": 1, "f": 1.5, "s": "x", "l": [1, 2], "t": "2024-05-01T12:30:00",
            "tz": "2023-11-14T22:13:20.123456+00:00", "d": "2024-05-01", "b": "hi", "dec": 1.25,
            "st": {"k": "v", "n": [1.0]},
        },
        {
            "i": None, "f": None, "s": None, "l": [], "t": None, "tz": None, "d": None,
            "b": base64.b64encode(b"\xff\x00").decode(), "dec": None, "st": None,
        },
    ]
    json.dumps(rows, allow_nan=False)


def test_parquet_rows_come_in_batches(tmp_path):
    """Ten rows in batches of four are 4, 4, 2, in order."""
    pq.write_table(pa.table({"n": list(range(10))}), tmp_path / "d.parquet")
    batches = list(iter_rows(tmp_path / "d.parquet", "parquet", batch_rows=4))
    assert [[row["n"] for row in batch] for batch in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_a_file_that_is_not_parquet_carries_pyarrows_message(tmp_path):
    """A CSV read as Parquet fails with pyarrow's reason."""
    path = write(tmp_path, "d.parquet", CSV_BODY)
    with pytest.raises(MalformedDataset) as caught:
        rows_of(path, "parquet")
    assert caught.value.message.startswith("the Parquet file is malformed: ")
    assert "magic bytes" in caught.value.message
    assert caught.value.param == "source.uri"


def test_a_truncated_parquet_file_is_malformed(tmp_path):
    """A file cut short (a partial download) is an error, not fewer rows."""
    pq.write_table(pa.table({"n": list(range(100))}), tmp_path / "whole.parquet")
    path = write(tmp_path, "d.parquet", (tmp_path / "whole.parquet").read_bytes()[:-20])
    with pytest.raises(MalformedDataset, match="^the Parquet file is malformed: "):
        rows_of(path, "parquet")


# --- purposes ------------------------------------------------------------------------------


def test_an_unknown_purpose_lists_the_purposes():
    """The error names the purpose given and every one known."""
    with pytest.raises(InvalidArgument) as caught:
        check_purpose("eval/qa")
    assert caught.value.param == "purpose"
    assert caught.value.message == f"unknown purpose 'eval/qa'; purposes are {', '.join(PURPOSES)}"


def test_a_question_answer_row_keeps_its_extra_columns():
    """A good row comes back equal, extra columns included, as a new dict."""
    row = {"question": "2+2?", "answer": "4", "id": 7}
    normalized = normalize_row("eval/question-answer", 0, row, where="rows")
    assert normalized == row and normalized is not row


@pytest.mark.parametrize(
    ("row", "param", "message"),
    [
        (
            {"answer": "4"},
            "source.rows[3].question",
            "row 3, column `question`: the column is missing; eval/question-answer rows need `question` and `answer`",
        ),
        ({"question": "  ", "answer": "4"}, "source.rows[3].question", "row 3, column `question`: must be a non-empty string, got an empty string"),
        ({"question": "2+2?", "answer": 4}, "source.rows[3].answer", "row 3, column `answer`: must be a string, got number"),
        ({"question": "2+2?", "answer": True}, "source.rows[3].answer", "row 3, column `answer`: must be a string, got boolean"),
        ({"question": ["q"], "answer": "4"}, "source.rows[3].question", "row 3, column `question`: must be a string, got array"),
    ],
)
def test_bad_question_answer_rows_name_the_row_and_column(row, param, message):
    """Numbers are not silently turned into strings; the param locates the cell."""
    with pytest.raises(InvalidArgument) as caught:
        normalize_row("eval/question-answer", 3, row, where="source.rows")
    assert (caught.value.param, caught.value.message) == (param, message)


def test_a_row_that_is_not_an_object_is_refused():
    """Inline rows can be any JSON; a row must be an object."""
    with pytest.raises(InvalidArgument) as caught:
        normalize_row("eval/question-answer", 2, ["q", "a"], where="rows")  # type: ignore[arg-type]
    assert (caught.value.param, caught.value.message) == ("rows[2]", "row 2 is not a JSON object (got array)")


def test_messages_answer_rows_accept_text_and_image_parts():
    """String content, text parts and image parts all pass; the row is unchanged."""
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": "x"}}]},
    ]
    row = {"messages": messages, "answer": "a cat"}
    assert normalize_row("eval/messages-answer", 0, row, where="rows") == row


def test_messages_given_as_a_json_string_are_stored_parsed():
    """A CSV cell holds messages as JSON text; the stored row holds the list."""
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    row = {"messages": json.dumps(messages), "answer": "hello"}
    assert normalize_row("eval/messages-answer", 0, row, where="source.uri")["messages"] == messages


def test_messages_from_a_csv_file_end_to_end(tmp_path):
    """A CSV cell of JSON messages, read and normalized, is a list of messages."""
    cell = json.dumps([{"role": "user", "content": "hi, there"}]).replace('"', '""')
    path = write(tmp_path, "d.csv", f'messages,answer\n"{cell}",hello\n'.encode())
    (row,) = rows_of(path, "csv")
    assert normalize_row("eval/messages-answer", 0, row, where="source.uri") == {
        "messages": [{"role": "user", "content": "hi, there"}],
        "answer": "hello",
    }


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ('[{"role": "user"', "is not valid JSON (Expecting ',' delimiter at character 16); expected a JSON array of messages"),
        ({"role": "user", "content": "x"}, "must be a list of messages, got object"),
        ([], "must hold at least one message, got an empty list"),
        (["hi"], "message 0 must be an object with `role` and `content`, got string"),
        ([{"role": "user", "content": "x"}, {"role": "robot", "content": "x"}], "message 1 has role 'robot'; roles are system, user, assistant, tool"),
        ([{"content": "x"}], "message 0 has no `role`; roles are system, user, assistant, tool"),
        ([{"role": "user"}], "message 0: `content` must be a string or a list of content parts, got nothing"),
        ([{"role": "user", "content": 5}], "message 0: `content` must be a string or a list of content parts, got number"),
        ([{"role": "user", "content": [{"type": "audio"}]}], "message 0, content part 0 has type 'audio'; types are text, image_url, image"),
        ([{"role": "user", "content": [{"type": "text", "text": None}]}], "message 0, content part 0: a text part's `text` must be a string, got null"),
    ],
)
def test_bad_messages_name_the_row_column_and_message(messages, message):
    """Each way a messages cell can be wrong has its own message, under the cell's param."""
    with pytest.raises(InvalidArgument) as caught:
        normalize_row("eval/messages-answer", 3, {"messages": messages, "answer": "a"}, where="source.uri")
    assert caught.value.param == "source.uri[3].messages"
    assert caught.value.message == f"row 3, column `messages`: {message}"


def test_messages_answer_rows_need_a_string_answer():
    """The answer is checked after the messages, with its own param."""
    row = {"messages": [{"role": "user", "content": "hi"}], "answer": None}
    with pytest.raises(InvalidArgument) as caught:
        normalize_row("eval/messages-answer", 0, row, where="rows")
    assert (caught.value.param, caught.value.message) == ("rows[0].answer", "row 0, column `answer`: must be a string, got null")


def test_post_training_rows_need_no_answer_but_an_assistant_turn():
    """A conversation with an assistant turn (even tool calls only) passes without `answer`."""
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "content": "sunny"},
    ]
    assert normalize_row("post-training/messages", 0, {"messages": messages}, where="rows") == {"messages": messages}


def test_post_training_rows_without_an_assistant_turn_are_refused():
    """There is nothing to train on without an assistant message."""
    with pytest.raises(InvalidArgument) as caught:
        normalize_row("post-training/messages", 1, {"messages": [{"role": "user", "content": "hi"}]}, where="rows")
    assert caught.value.param == "rows[1].messages"
    assert caught.value.message == "row 1, column `messages`: must include at least one assistant message (the turn to train on)"


def test_post_training_rows_name_only_messages_when_it_is_missing():
    """The missing-column message lists this purpose's columns, not another's."""
    with pytest.raises(InvalidArgument) as caught:
        normalize_row("post-training/messages", 0, {"answer": "x"}, where="rows")
    assert caught.value.message == "row 0, column `messages`: the column is missing; post-training/messages rows need `messages`"


# --- sources: data: URIs -------------------------------------------------------------------


def limits(tmp_path: Path | None = None, *, max_bytes: int = 1 << 20, roots: tuple[Path, ...] | None = None) -> SourceLimits:
    local_roots = roots if roots is not None else ((tmp_path,) if tmp_path else ())
    return SourceLimits(max_bytes=max_bytes, fetch_timeout_s=5.0, local_roots=local_roots)


async def fetch(uri: str, lim: SourceLimits) -> tuple[FetchedSource, bytes]:
    dest = io.BytesIO()
    fetched = await fetch_source(uri, dest, files=None, limits=lim)
    return fetched, dest.getvalue()


async def test_a_base64_data_uri_is_decoded_with_its_media_type():
    """The media type is kept (without parameters' case); the name is empty."""
    uri = "data:Text/CSV;charset=utf-8;base64," + base64.b64encode(CSV_BODY).decode()
    assert await fetch(uri, limits()) == (FetchedSource(name="", content_type="text/csv", size=len(CSV_BODY)), CSV_BODY)


async def test_a_plain_data_uri_is_percent_decoded():
    """Without ;base64 the data is percent-encoded text."""
    fetched, data = await fetch('data:application/jsonl,%7B%22a%22%3A%201%7D%0A', limits())
    assert data == b'{"a": 1}\n'
    assert fetched.content_type == "application/jsonl"


async def test_a_data_uri_without_media_type_has_none():
    """Only `;base64`: the format is left to sniffing."""
    fetched, data = await fetch("data:;base64,e30K", limits())
    assert (fetched.content_type, data) == (None, b"{}\n")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("data:text/csv;base64,@@@", "the data: URI's base64 data is invalid"),
        ("data:text/csv;base64", "a data: URI needs a comma before its data"),
    ],
)
async def test_malformed_data_uris_are_invalid(uri, message):
    """Bad base64 and a missing comma are the caller's mistakes."""
    with pytest.raises(InvalidArgument, match=message) as caught:
        await fetch(uri, limits())
    assert caught.value.param == "source.uri"


async def test_a_data_uri_over_the_limit_is_too_large():
    """The decoded size counts, and the limit is named."""
    uri = "data:text/csv;base64," + base64.b64encode(b"x" * 11).decode()
    with pytest.raises(PayloadTooLarge) as caught:
        await fetch(uri, limits(max_bytes=10))
    assert caught.value.message == "the dataset source (11 bytes) is larger than the limit of 10 bytes"


# --- sources: files, unsupported -----------------------------------------------------------


async def test_a_file_id_without_the_files_api_says_so():
    """A distribution without vector_io cannot read Files API ids."""
    with pytest.raises(InvalidArgument) as caught:
        await fetch("file-abc123", limits())
    assert caught.value.message == "cannot read `file-abc123`: the Files API (vector_io service) is not in this distribution"


@pytest.mark.parametrize("uri", ["huggingface://datasets/llamastack/simpleqa", "s3://bucket/key.csv", "data.csv"])
async def test_unsupported_uris_list_the_supported_forms(uri):
    """Other schemes and relative paths are refused with the forms that work."""
    with pytest.raises(InvalidArgument) as caught:
        await fetch(uri, limits())
    assert caught.value.message.startswith(f"unsupported dataset source `{uri}`; use a data: URI, a Files API file id")
    assert caught.value.param == "source.uri"


# --- sources: local paths ------------------------------------------------------------------


async def test_a_local_path_under_a_root_is_copied(tmp_path):
    """Bare paths and file:// URIs (percent-encoded) read the file; the name keeps the extension."""
    path = write(tmp_path, "my data.csv", CSV_BODY)
    for uri in (str(path), "file://" + str(path).replace(" ", "%20"), "file://localhost" + str(path).replace(" ", "%20")):
        fetched, data = await fetch(uri, limits(tmp_path))
        assert (fetched, data) == (FetchedSource(name="my data.csv", content_type=None, size=len(CSV_BODY)), CSV_BODY)


async def test_local_paths_need_a_configured_root(tmp_path):
    """Without roots the error says which setting to set."""
    path = write(tmp_path, "d.csv", CSV_BODY)
    with pytest.raises(InvalidArgument) as caught:
        await fetch(str(path), limits(roots=()))
    assert caught.value.message == (
        f"cannot read local path `{path}`: no local roots are configured (set services.eval.settings.datasets.local_roots)"
    )


async def test_dot_dot_cannot_leave_the_root(tmp_path):
    """`..` is resolved before the root check."""
    root = tmp_path / "root"
    root.mkdir()
    write(tmp_path, "secret.csv", CSV_BODY)
    with pytest.raises(InvalidArgument) as caught:
        await fetch(f"{root}/../secret.csv", limits(roots=(root,)))
    assert caught.value.message == f"local path `{root}/../secret.csv` is outside the allowed roots ({root})"


async def test_a_symlink_out_of_the_root_is_refused(tmp_path):
    """A link inside the root pointing outside it does not widen the root."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.csv").symlink_to(write(tmp_path, "secret.csv", CSV_BODY))
    with pytest.raises(InvalidArgument, match="is outside the allowed roots"):
        await fetch(str(root / "link.csv"), limits(roots=(root,)))


async def test_a_symlinked_root_still_admits_its_files(tmp_path):
    """Roots are resolved too, so a root given through a symlink works."""
    real = tmp_path / "real"
    real.mkdir()
    write(real, "d.csv", CSV_BODY)
    (tmp_path / "alias").symlink_to(real)
    _, data = await fetch(str(tmp_path / "alias" / "d.csv"), limits(roots=(tmp_path / "alias",)))
    assert data == CSV_BODY


async def test_a_missing_local_file_is_not_found(tmp_path):
    """Inside a root, a missing file is a 404 naming the path."""
    with pytest.raises(NotFound) as caught:
        await fetch(str(tmp_path / "nope.csv"), limits(tmp_path))
    assert caught.value.message == f"no file at local path `{tmp_path / 'nope.csv'}`"


async def test_a_local_directory_is_not_a_dataset_file(tmp_path):
    """Directories (and FIFOs, devices) are refused rather than read."""
    with pytest.raises(InvalidArgument, match="is not a regular file"):
        await fetch(str(tmp_path), limits(tmp_path))


async def test_a_local_file_over_the_limit_is_too_large(tmp_path):
    """The file's size is checked before anything is copied."""
    path = write(tmp_path, "d.csv", b"x" * 100)
    with pytest.raises(PayloadTooLarge, match="\\(100 bytes\\) is larger than the limit of 99 bytes"):
        await fetch(str(path), limits(tmp_path, max_bytes=99))


# --- sources: http(s) ----------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/data.csv":
            self.answer(200, CSV_BODY, {"Content-Type": "text/csv; charset=utf-8", "Content-Length": str(len(CSV_BODY))})
        elif self.path == "/redirect":
            self.answer(302, b"", {"Location": "/data.csv", "Content-Length": "0"})
        elif self.path == "/loop":
            self.answer(302, b"", {"Location": "/loop", "Content-Length": "0"})
        elif self.path == "/undeclared":
            # HTTP/1.0 without Content-Length: the size is only known by reading.
            self.answer(200, b"x" * 5000, {})
        else:
            self.answer(404, b"no", {"Content-Length": "2"})

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_an_http_source_is_streamed_with_its_path_and_content_type(http_url):
    """The name is the URL path and the content type loses its parameters."""
    fetched, data = await fetch(f"{http_url}/data.csv", limits())
    assert (fetched, data) == (FetchedSource(name="/data.csv", content_type="text/csv", size=len(CSV_BODY)), CSV_BODY)


async def test_http_redirects_are_followed(http_url):
    """A 302 to the file reads the file."""
    _, data = await fetch(f"{http_url}/redirect", limits())
    assert data == CSV_BODY


async def test_a_redirect_loop_stops(http_url):
    """Redirects are capped, with the cap in the message."""
    with pytest.raises(InvalidArgument, match="more than 5 redirects"):
        await fetch(f"{http_url}/loop", limits())


async def test_an_http_404_is_invalid_with_the_status(http_url):
    """The status code is in the message."""
    with pytest.raises(InvalidArgument) as caught:
        await fetch(f"{http_url}/missing.csv", limits())
    assert caught.value.message == f"fetching `{http_url}/missing.csv` answered HTTP 404 Not Found"


@pytest.mark.parametrize(("path", "size"), [("/data.csv", f"({len(CSV_BODY)} bytes) "), ("/undeclared", "")])
async def test_an_http_source_over_the_limit_is_too_large(http_url, path, size):
    """A declared length is refused up front; an undeclared one is cut off while streaming."""
    dest = io.BytesIO()
    with pytest.raises(PayloadTooLarge) as caught:
        await fetch_source(f"{http_url}{path}", dest, files=None, limits=limits(max_bytes=20))
    assert caught.value.message == f"the dataset source {size}is larger than the limit of 20 bytes"
    assert len(dest.getvalue()) <= 20


async def test_an_unreachable_host_cannot_be_fetched():
    """A refused connection is the caller's bad URL, with the reason."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InvalidArgument, match=f"^cannot fetch `http://127.0.0.1:{port}/d.csv`: "):
        await fetch(f"http://127.0.0.1:{port}/d.csv", limits())


def test_preference_rows_take_a_text_or_conversation_prompt_and_two_answers():
    text = normalize_row("post-training/preference", 0, {"prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away."}, where="rows")
    assert text == {"prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away."}
    conversation = [{"role": "user", "content": "Hi?"}]
    assert normalize_row("post-training/preference", 1, {"prompt": conversation, "chosen": "a", "rejected": "b"}, where="rows")["prompt"] == conversation
    with pytest.raises(InvalidArgument) as caught:
        normalize_row("post-training/preference", 2, {"prompt": "Hi?", "chosen": " ", "rejected": "b"}, where="rows")
    assert (caught.value.param, caught.value.message) == ("rows[2].chosen", "row 2, column `chosen`: must be a non-empty string, got an empty string")
    with pytest.raises(InvalidArgument) as caught:
        normalize_row("post-training/preference", 3, {"prompt": "Hi?", "chosen": "a"}, where="rows")
    assert caught.value.param == "rows[3].rejected"
