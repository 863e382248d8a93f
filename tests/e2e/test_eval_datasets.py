"""Llama Stack datasets and datasetio (/v1beta) through the gateway: every kind of source,
row types kept, paging, appends, purposes, and bad input refused whole in OpenAI's error
envelope with nothing left half-registered."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import threading
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stackmesh.eval.v1 import eval_service_pb2 as pb
from stackmesh.eval.v1 import eval_service_pb2_grpc as pb_grpc
from tests.e2e.test_bad_input import error_of

DATASETS = "/v1beta/datasets"
ITERROWS = "/v1beta/datasetio/iterrows"
APPEND = "/v1beta/datasetio/append-rows"
QA = "eval/question-answer"
MESSAGES_ANSWER = "eval/messages-answer"
TRAINING = "post-training/messages"

# Every JSON type, nested, as a JSONL or inline row carries it.
TYPED_ROWS = [
    {"question": "What is 2 + 2?", "answer": "4", "id": 7, "score": 0.5, "ok": True, "none": None,
     "tags": [[1, 2], ["a", {"b": [3]}]], "extra": {"depth": {"n": -12}}},
    {"question": "Ünïcödé — 東京?", "answer": "", "id": 8, "score": 1.25, "ok": False, "none": None,
     "tags": [], "extra": {}},
]
CSV_TEXT = 'question,answer,id\nWhat is 1 + 1?,2,1\n"Say ""hi"", twice",hi hi,2\n'
CSV_ROWS = [
    {"question": "What is 1 + 1?", "answer": "2", "id": "1"},
    {"question": 'Say "hi", twice', "answer": "hi hi", "id": "2"},
]
PARQUET_ROWS = [
    {"question": "Which primes are below 6?", "answer": "2, 3, 5", "id": 1, "primes": [2, 3, 5], "pairs": [[1, 2], [3]]},
    {"question": "And below 3?", "answer": "2", "id": 2, "primes": [2], "pairs": []},
]


def qa_rows(count: int, first: int = 0) -> list[dict]:
    return [{"question": f"question {i}?", "answer": f"answer {i}", "n": i} for i in range(first, first + count)]


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def parquet(rows: list[dict]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def data_uri(media_type: str, content: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode()}"


def new_id(prefix: str = "ds") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def api(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def local_root(stack) -> Path:
    """The eval service's default local root, which it creates at start."""
    root = Path(stack.state_dir) / "data/eval/datasets"
    assert root.is_dir()
    return root


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> tuple[str, Path]:
    """A plain HTTP server on loopback serving a folder: (its base URL, the folder)."""
    folder = tmp_path_factory.mktemp("web")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


def register(api: httpx.Client, purpose: str, source: dict, dataset_id: str | None = None, metadata: dict | None = None) -> httpx.Response:
    body: dict = {"purpose": purpose, "source": source}
    if dataset_id is not None:
        body["dataset_id"] = dataset_id
    if metadata is not None:
        body["metadata"] = metadata
    return api.post(DATASETS, json=body)


def registered(api: httpx.Client, purpose: str, source: dict, dataset_id: str | None = None, metadata: dict | None = None) -> dict:
    response = register(api, purpose, source, dataset_id, metadata)
    assert response.status_code == 200, response.text
    return response.json()


def all_rows(api: httpx.Client, dataset_id: str) -> list[dict]:
    response = api.get(f"{ITERROWS}/{dataset_id}", params={"limit": -1})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["has_more"] is False and "next_start_index" not in page
    return page["data"]


def refused(response: httpx.Response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    return error


def assert_not_registered(api: httpx.Client, dataset_id: str) -> None:
    response = api.get(f"{DATASETS}/{dataset_id}")
    assert refused(response, 404) == {
        "message": f"The dataset `{dataset_id}` does not exist",
        "type": "invalid_request_error",
        "param": "dataset_id",
        "code": "dataset_not_found",
    }
    assert dataset_id not in [d["identifier"] for d in api.get(DATASETS).json()["data"]]


# --- what is there from the start ---------------------------------------------------------


def test_the_shipped_basics_dataset_is_listed_with_its_24_rows(api):
    """The distribution seeds stackmesh-basics: listed, eval/question-answer, 24 rows."""
    listed = {d["identifier"]: d for d in api.get(DATASETS).json()["data"]}
    basics = listed["stackmesh-basics"]
    assert (basics["purpose"], basics["provider_id"], basics["type"], basics["source"]["type"]) == (
        QA, "localfs", "dataset", "uri"
    )
    assert basics["source"]["uri"].startswith("file:///") and basics["source"]["uri"].endswith("/basics.jsonl")
    rows = all_rows(api, "stackmesh-basics")
    assert len(rows) == 24
    assert rows[0] == {"id": "basics-00", "question": "What is the capital of France? Answer in one word.", "answer": "Paris"}


# --- sources ----------------------------------------------------------------------------


def test_inline_rows_register_as_a_llama_stack_dataset(api):
    """POST returns Llama Stack's Dataset; GET returns the same and it is listed."""
    dataset_id = new_id()
    metadata = {"owner": "team-a", "version": 3, "tags": ["x", 1]}
    dataset = registered(api, QA, {"type": "rows", "rows": qa_rows(2)}, dataset_id, metadata)
    assert {k: v for k, v in dataset.items() if k != "source"} == {
        "identifier": dataset_id,
        "provider_resource_id": dataset_id,
        "provider_id": "localfs",
        "type": "dataset",
        "purpose": QA,
        "metadata": metadata,
    }
    assert dataset["source"]["type"] == "rows"
    assert api.get(f"{DATASETS}/{dataset_id}").json() == dataset
    assert dataset in api.get(DATASETS).json()["data"]


def test_a_dataset_without_an_id_or_metadata_gets_a_generated_id_and_empty_metadata(api):
    """With no dataset_id the stack names it dataset-<32 hex>; metadata is {} as in Llama Stack."""
    dataset = registered(api, QA, {"type": "rows", "rows": qa_rows(1)})
    assert dataset["metadata"] == {}
    dataset_id = dataset["identifier"]
    assert dataset_id.startswith("dataset-") and len(dataset_id) == len("dataset-") + 32
    int(dataset_id.removeprefix("dataset-"), 16)
    assert all_rows(api, dataset_id) == qa_rows(1)


def test_inline_rows_round_trip_with_their_json_types(api):
    """Strings, ints (not 7.0), floats, booleans, nulls, nested lists and objects come back as sent."""
    dataset_id = registered(api, QA, {"type": "rows", "rows": TYPED_ROWS}, new_id())["identifier"]
    rows = all_rows(api, dataset_id)
    assert rows == TYPED_ROWS
    assert isinstance(rows[0]["id"], int) and isinstance(rows[0]["tags"][0][0], int)


def test_a_backslash_u0000_text_is_kept_and_only_a_real_nul_refused(api):
    """The six characters \\u0000 are ordinary text; a NUL character cannot be stored in Postgres."""
    text = [{"question": "What does \\u0000 mean in JSON?", "answer": "a NUL, escaped \\\\u0000"}]
    dataset_id = registered(api, QA, {"type": "rows", "rows": text}, new_id())["identifier"]
    assert all_rows(api, dataset_id) == text
    nul_id = new_id()
    error = refused(register(api, QA, {"type": "rows", "rows": text + [{"question": "q\u0000", "answer": "a"}]}, nul_id))
    # Refused by the services' common check on every request, naming the very field.
    assert error["param"] == "source.rows[1].question" and "NUL character" in error["message"]
    assert_not_registered(api, nul_id)


def test_a_csv_data_uri_registers_its_cells_as_strings(api):
    """A CSV data: URI: header row names the columns, quoting is honoured, every cell a string;
    the dataset keeps the URI's media type, not its content."""
    dataset = registered(api, QA, {"type": "uri", "uri": data_uri("text/csv", CSV_TEXT.encode())}, new_id())
    assert dataset["source"]["uri"] == "data:text/csv;base64,…"
    assert all_rows(api, dataset["identifier"]) == CSV_ROWS


def test_an_upper_case_data_uri_is_not_stored_whole(api):
    """DATA: is a data: URI too: the dataset keeps its media type, not its content."""
    dataset = registered(api, QA, {"type": "uri", "uri": "DATA:text/csv," + CSV_TEXT.replace("\n", "%0A").replace('"', "%22")}, new_id())
    assert dataset["source"]["uri"] == "DATA:text/csv,…"
    assert all_rows(api, dataset["identifier"]) == CSV_ROWS


def test_a_csv_cell_over_128_kib_is_kept_whole(api):
    """Python's csv module stops at 131,072 characters a cell by default; a long cell is still a valid CSV."""
    question = "Summarise: " + "lorem ipsum " * 20_000
    uri = data_uri("text/csv", f'question,answer\n"{question}",short\n'.encode())
    dataset_id = registered(api, QA, {"type": "uri", "uri": uri}, new_id())["identifier"]
    assert all_rows(api, dataset_id) == [{"question": question, "answer": "short"}]


def test_a_plain_jsonl_data_uri_keeps_its_json_types(api):
    """A percent-encoded (not base64) JSONL data: URI keeps ints, nested lists and unicode."""
    uri = "data:application/jsonl," + jsonl(TYPED_ROWS).decode().replace("%", "%25").replace("\n", "%0A")
    dataset_id = registered(api, QA, {"type": "uri", "uri": uri}, new_id())["identifier"]
    assert all_rows(api, dataset_id) == TYPED_ROWS


def test_a_csv_messages_column_is_parsed_as_json_for_messages_answer(api):
    """CSV cells hold `messages` as JSON text; eval/messages-answer stores it as a list."""
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi, there"}]
    text = io.StringIO()
    csv.writer(text).writerows([["messages", "answer"], [json.dumps(messages), "Hello"]])
    uri = data_uri("text/csv", text.getvalue().encode())
    dataset_id = registered(api, MESSAGES_ANSWER, {"type": "uri", "uri": uri}, new_id())["identifier"]
    assert all_rows(api, dataset_id) == [{"messages": messages, "answer": "Hello"}]


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("rows.csv", CSV_TEXT.encode(), CSV_ROWS),
        ("rows.jsonl", jsonl(TYPED_ROWS), TYPED_ROWS),
        ("rows.parquet", parquet(PARQUET_ROWS), PARQUET_ROWS),
    ],
    ids=["csv", "jsonl", "parquet"],
)
def test_a_files_api_file_registers_in_its_format(api, client, name, content, expected):
    """A file uploaded through the OpenAI Files API registers by its id; its name says the format."""
    uploaded = client.files.create(file=(name, content), purpose="assistants")
    dataset = registered(api, QA, {"type": "uri", "uri": uploaded.id}, new_id())
    assert dataset["source"]["uri"] == uploaded.id
    rows = all_rows(api, dataset["identifier"])
    assert rows == expected
    assert type(rows[0]["id"]) is type(expected[0]["id"])


@pytest.mark.parametrize("form", ["path", "file-uri"])
def test_a_local_file_under_the_root_registers(api, local_root, form):
    """An absolute path, or a file:// URI, of a file under the local root."""
    path = local_root / f"{new_id('local')}.jsonl"
    path.write_bytes(jsonl(qa_rows(3)))
    uri = str(path) if form == "path" else path.as_uri()
    dataset = registered(api, QA, {"type": "uri", "uri": uri}, new_id())
    assert dataset["source"]["uri"] == uri
    assert all_rows(api, dataset["identifier"]) == qa_rows(3)


def test_an_http_url_registers(api, web):
    """An http:// URL is fetched; its path's extension says the format."""
    base, folder = web
    (folder / "remote.parquet").write_bytes(parquet(PARQUET_ROWS))
    dataset = registered(api, QA, {"type": "uri", "uri": f"{base}/remote.parquet"}, new_id())
    assert all_rows(api, dataset["identifier"]) == PARQUET_ROWS


def test_an_http_404_is_a_400_naming_the_status(api, web):
    base, _ = web
    dataset_id = new_id()
    error = refused(register(api, QA, {"type": "uri", "uri": f"{base}/missing.csv"}, dataset_id))
    assert error["param"] == "source.uri"
    # http.server's reason phrase is "File not found".
    assert error["message"] == f"fetching `{base}/missing.csv` answered HTTP 404 File not found"
    assert_not_registered(api, dataset_id)


# --- get, list, delete ------------------------------------------------------------------


def test_a_deleted_dataset_is_gone_everywhere_with_a_404_naming_it(api):
    """DELETE, then GET, iterrows, append-rows and a second DELETE are all 404 naming the id."""
    dataset_id = registered(api, QA, {"type": "rows", "rows": qa_rows(2)}, new_id())["identifier"]
    assert api.delete(f"{DATASETS}/{dataset_id}").status_code == 200
    assert_not_registered(api, dataset_id)
    for response in (
        api.get(f"{ITERROWS}/{dataset_id}"),
        api.post(f"{APPEND}/{dataset_id}", json={"rows": qa_rows(1)}),
        api.delete(f"{DATASETS}/{dataset_id}"),
    ):
        error = refused(response, 404)
        assert (error["message"], error["code"]) == (f"The dataset `{dataset_id}` does not exist", "dataset_not_found")
    # The id is free again.
    registered(api, QA, {"type": "rows", "rows": qa_rows(1)}, dataset_id)


# --- iterrows ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows25(api) -> str:
    return registered(api, QA, {"type": "rows", "rows": qa_rows(25)}, new_id("rows25"))["identifier"]


def test_iterrows_pages_through_25_rows(api, rows25):
    """limit 10 from 0: pages of 10, 10 and 5, each pointing at the next; the last has no next."""
    pages, start = [], 0
    while start is not None:
        page = api.get(f"{ITERROWS}/{rows25}", params={"start_index": start, "limit": 10}).json()
        pages.append(page)
        start = page.get("next_start_index")
    assert [(len(p["data"]), p["has_more"], p.get("next_start_index")) for p in pages] == [
        (10, True, 10), (10, True, 20), (5, False, None)
    ]
    assert [row for page in pages for row in page["data"]] == qa_rows(25)


def test_iterrows_from_the_middle_returns_that_window(api, rows25):
    page = api.get(f"{ITERROWS}/{rows25}", params={"start_index": 7, "limit": 3}).json()
    assert page == {"data": qa_rows(3, first=7), "next_start_index": 10, "has_more": True}


@pytest.mark.parametrize("params", [{"limit": -1}, {}, {"limit": 1000}])
def test_iterrows_without_a_bound_returns_every_row(api, rows25, params):
    assert api.get(f"{ITERROWS}/{rows25}", params=params).json() == {"data": qa_rows(25), "has_more": False}


@pytest.mark.parametrize("start", [24, 1000])
def test_iterrows_at_or_beyond_the_end(api, rows25, start):
    """From the last row: that row; from the end or beyond: an empty page, no more."""
    page = api.get(f"{ITERROWS}/{rows25}", params={"start_index": start, "limit": 10}).json()
    assert page == {"data": qa_rows(1, first=24) if start == 24 else [], "has_more": False}


@pytest.mark.parametrize("params, param", [({"limit": 0}, "limit"), ({"start_index": -1}, "start_index")])
def test_iterrows_refuses_a_bad_window(api, rows25, params, param):
    error = refused(api.get(f"{ITERROWS}/{rows25}", params=params))
    assert error["param"] == param and str(params[param]) in error["message"]


# --- append-rows ------------------------------------------------------------------------


def test_appended_rows_follow_the_existing_ones(api):
    dataset_id = registered(api, QA, {"type": "rows", "rows": qa_rows(3)}, new_id())["identifier"]
    response = api.post(f"{APPEND}/{dataset_id}", json={"rows": qa_rows(2, first=3)})
    assert response.status_code == 200, response.text
    api.post(f"{APPEND}/{dataset_id}", json={"rows": [TYPED_ROWS[0]]}).raise_for_status()
    assert all_rows(api, dataset_id) == qa_rows(5) + [TYPED_ROWS[0]]
    page = api.get(f"{ITERROWS}/{dataset_id}", params={"start_index": 4, "limit": 1}).json()
    assert page == {"data": qa_rows(1, first=4), "next_start_index": 5, "has_more": True}


def test_an_append_with_one_bad_row_appends_nothing(api):
    """Row 1 of 3 lacks a string answer: 400 naming rows[1].answer, and the dataset is unchanged."""
    dataset_id = registered(api, QA, {"type": "rows", "rows": qa_rows(2)}, new_id())["identifier"]
    bad = qa_rows(3, first=2)
    bad[1]["answer"] = 42
    error = refused(api.post(f"{APPEND}/{dataset_id}", json={"rows": bad}))
    assert error["param"] == "rows[1].answer"
    assert error["message"] == "row 1, column `answer`: must be a string, got number"
    assert all_rows(api, dataset_id) == qa_rows(2)


def test_an_empty_append_is_refused(api, rows25):
    assert refused(api.post(f"{APPEND}/{rows25}", json={"rows": []}))["param"] == "rows"


# --- purposes ---------------------------------------------------------------------------


USER = {"role": "user", "content": "Hi"}
ASSISTANT = {"role": "assistant", "content": "Hello"}


@pytest.mark.parametrize(
    "purpose, bad_row, column, detail",
    [
        (QA, {"question": "q"}, "answer", "the column is missing; eval/question-answer rows need `question` and `answer`"),
        (QA, {"question": "  ", "answer": "a"}, "question", "must be a non-empty string, got an empty string"),
        (QA, {"question": ["q"], "answer": "a"}, "question", "must be a string, got array"),
        (MESSAGES_ANSWER, {"messages": [USER]}, "answer", "the column is missing; eval/messages-answer rows need `messages` and `answer`"),
        (MESSAGES_ANSWER, {"messages": "not json", "answer": "a"}, "messages", None),
        (MESSAGES_ANSWER, {"messages": [{"role": "robot", "content": "x"}], "answer": "a"}, "messages",
         "message 0 has role 'robot'; roles are system, user, assistant, tool"),
        (TRAINING, {"messages": [USER]}, "messages", "must include at least one assistant message (the turn to train on)"),
        (TRAINING, {"messages": []}, "messages", "must hold at least one message, got an empty list"),
    ],
    ids=["qa-missing-answer", "qa-blank-question", "qa-list-question", "ma-missing-answer", "ma-messages-not-json",
         "ma-unknown-role", "pt-no-assistant", "pt-no-messages"],
)
def test_a_row_not_fitting_the_purpose_registers_nothing(api, purpose, bad_row, column, detail):
    """Rows 0 and 1 fit, row 2 does not: 400 naming row 2 and the column, and no dataset."""
    good = {QA: {"question": "q", "answer": "a"}, MESSAGES_ANSWER: {"messages": [USER], "answer": "a"},
            TRAINING: {"messages": [USER, ASSISTANT]}}[purpose]
    dataset_id = new_id()
    error = refused(register(api, purpose, {"type": "rows", "rows": [good, good, bad_row]}, dataset_id))
    assert error["param"] == f"source.rows[2].{column}"
    assert error["message"].startswith(f"row 2, column `{column}`: ")
    if detail is not None:
        assert error["message"] == f"row 2, column `{column}`: {detail}"
    assert_not_registered(api, dataset_id)


def test_a_bad_row_deep_in_a_file_registers_nothing(api):
    """2,500 rows streamed in batches; row 2,400 lacks its answer: 400, no rows kept."""
    rows = qa_rows(2500)
    del rows[2400]["answer"]
    dataset_id = new_id()
    error = refused(register(api, QA, {"type": "uri", "uri": data_uri("application/jsonl", jsonl(rows))}, dataset_id))
    assert error["param"] == "source.uri[2400].answer"
    assert error["message"].startswith("row 2400, column `answer`: the column is missing")
    assert_not_registered(api, dataset_id)


def test_an_unknown_purpose_is_refused(api):
    dataset_id = new_id()
    error = refused(register(api, "eval/nope", {"type": "rows", "rows": qa_rows(1)}, dataset_id))
    assert error["param"] == "purpose"
    assert error["message"] == "unknown purpose 'eval/nope'; purposes are eval/question-answer, eval/messages-answer, post-training/messages, post-training/preference"
    assert_not_registered(api, dataset_id)


# --- malformed files --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.csv", b"question,answer\nq,a\nq,a,extra\n", "the CSV file is malformed: line 3 has 3 fields, the header has 2"),
        ("bad.csv", b"question,answer,question\nq,a,b\n", "the CSV file is malformed: the header names column(s) 'question' more than once"),
        ("bad.jsonl", b'{"question": "q", "answer": "a"}\n{"question": "q", \n', None),
        ("bad.jsonl", b'{"question": "q", "answer": "a"}\n["q", "a"]\n', "the JSONL file is malformed: line 2 is a JSON array, expected an object"),
        ("bad.jsonl", b'{"question": "q", "answer": "a", "x": NaN}\n', "the JSONL file is malformed: line 1 is not valid JSON: NaN is not a JSON value"),
        ("bad.jsonl", b'{"question": "q\xff", "answer": "a"}\n', "the JSONL file is malformed: line 1 is not valid UTF-8 (byte 0xff at column 16)"),
        ("bad.parquet", b"PAR1 this is not a parquet file at all PAR1", None),
        ("cut.parquet", parquet(qa_rows(50))[:-200], None),
    ],
    ids=["csv-fields", "csv-header", "jsonl-syntax", "jsonl-array", "jsonl-nan", "jsonl-utf8", "parquet-garbage", "parquet-cut"],
)
def test_a_malformed_file_is_refused_with_the_parsers_message(api, client, name, content, message):
    """The parser's complaint comes back as a 400 on source.uri, and nothing is registered."""
    uploaded = client.files.create(file=(name, content), purpose="assistants")
    dataset_id = new_id()
    error = refused(register(api, QA, {"type": "uri", "uri": uploaded.id}, dataset_id))
    assert error["param"] == "source.uri"
    label = {".csv": "CSV", ".jsonl": "JSONL", ".parquet": "Parquet"}[Path(name).suffix]
    assert error["message"].startswith(f"the {label} file is malformed: ")
    if message is not None:
        assert error["message"] == message
    elif label == "JSONL":
        assert error["message"].startswith("the JSONL file is malformed: line 2 is not valid JSON: ")
    assert_not_registered(api, dataset_id)


def test_a_source_of_no_known_format_is_refused(api):
    dataset_id = new_id()
    error = refused(register(api, QA, {"type": "uri", "uri": "data:text/plain,just some words"}, dataset_id))
    assert error["param"] == "source.uri" and error["message"].startswith("cannot tell the dataset's format")
    assert_not_registered(api, dataset_id)


# --- ids, duplicates and sources refused ------------------------------------------------


def test_a_duplicate_dataset_id_is_409_and_keeps_the_first(api):
    dataset_id = new_id()
    registered(api, QA, {"type": "rows", "rows": qa_rows(2)}, dataset_id)
    error = refused(register(api, QA, {"type": "rows", "rows": qa_rows(5)}, dataset_id), 409)
    assert (error["param"], error["code"]) == ("dataset_id", "already_exists")
    assert error["message"] == f"a dataset named `{dataset_id}` is already registered"
    assert all_rows(api, dataset_id) == qa_rows(2)


@pytest.mark.parametrize("dataset_id", ["../x", "a/b", "x" * 257])
def test_a_bad_dataset_id_is_refused(api, dataset_id):
    error = refused(register(api, QA, {"type": "rows", "rows": qa_rows(1)}, dataset_id))
    assert error["param"] == "dataset_id"
    assert error["message"].startswith(f"`dataset_id` {dataset_id!r} is not a valid dataset id")


@pytest.mark.parametrize("uri", ["/etc/passwd", "file:///etc/passwd", "{root}/../../../../../../etc/passwd"])
def test_a_local_path_outside_the_root_is_refused(api, local_root, uri):
    uri = uri.format(root=local_root)
    dataset_id = new_id()
    error = refused(register(api, QA, {"type": "uri", "uri": uri}, dataset_id))
    assert error["param"] == "source.uri"
    assert error["message"] == f"local path `{uri.removeprefix('file://')}` is outside the allowed roots ({local_root})"
    assert_not_registered(api, dataset_id)


def test_a_symlink_escaping_the_root_is_refused(api, local_root, tmp_path):
    """A link under the root to a readable dataset outside it is still outside."""
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(jsonl(qa_rows(2)))
    link = local_root / f"{new_id('link')}.jsonl"
    os.symlink(outside, link)
    dataset_id = new_id()
    error = refused(register(api, QA, {"type": "uri", "uri": str(link)}, dataset_id))
    assert error["param"] == "source.uri" and "outside the allowed roots" in error["message"]
    assert_not_registered(api, dataset_id)


def test_a_missing_local_file_under_the_root_is_404(api, local_root):
    path = local_root / "no-such-file.csv"
    error = refused(register(api, QA, {"type": "uri", "uri": str(path)}, new_id()), 404)
    assert (error["param"], error["message"]) == ("source.uri", f"no file at local path `{path}`")


def test_an_unknown_files_api_id_is_404(api):
    dataset_id = new_id()
    error = refused(register(api, QA, {"type": "uri", "uri": "file-doesnotexist0000"}, dataset_id), 404)
    assert error["param"] == "source.uri" and "file-doesnotexist0000" in error["message"]
    assert_not_registered(api, dataset_id)


@pytest.mark.parametrize("uri", ["ftp://example.com/rows.csv", "relative/rows.csv"])
def test_an_unsupported_uri_scheme_is_refused(api, uri):
    error = refused(register(api, QA, {"type": "uri", "uri": uri}, new_id()))
    assert error["param"] == "source.uri"
    assert error["message"].startswith(f"unsupported dataset source `{uri}`; use a data: URI")


@pytest.mark.parametrize(
    "source, param",
    [({"type": "uri"}, "source.uri"), ({"type": "table", "rows": qa_rows(1)}, "source.type"), ({}, "source.type")],
)
def test_a_source_without_its_fields_is_refused(api, source, param):
    assert refused(register(api, QA, source, new_id()))["param"] == param


# --- gRPC -------------------------------------------------------------------------------


def test_unknown_datasets_are_not_found_over_grpc(stack):
    """DatasetsService and DatasetIOService called directly answer NOT_FOUND naming the id."""
    with grpc.insecure_channel(stack.service_address("eval")) as channel:
        datasets = pb_grpc.DatasetsServiceStub(channel)
        rows = pb_grpc.DatasetIOServiceStub(channel)
        for call in (
            lambda: datasets.GetDataset(pb.GetDatasetRequest(dataset_id="no-such-dataset"), timeout=10),
            lambda: datasets.UnregisterDataset(pb.UnregisterDatasetRequest(dataset_id="no-such-dataset"), timeout=10),
            lambda: rows.IterRows(pb.IterRowsRequest(dataset_id="no-such-dataset", limit=5), timeout=10),
        ):
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            assert "no-such-dataset" in caught.value.details()
        basics = datasets.GetDataset(pb.GetDatasetRequest(dataset_id="stackmesh-basics"), timeout=10)
        assert (basics.identifier, basics.purpose) == ("stackmesh-basics", QA)
        page = rows.IterRows(pb.IterRowsRequest(dataset_id="stackmesh-basics", start_index=20, limit=10), timeout=10)
        assert (len(page.data), page.has_more, page.HasField("next_start_index")) == (4, False, False)
