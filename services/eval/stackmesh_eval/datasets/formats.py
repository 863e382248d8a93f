"""Dataset file formats: which one a source is, and its rows streamed in batches."""

from __future__ import annotations

import base64
import codecs
import csv
import datetime
import json
import math
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from stackmesh_common.errors import InvalidArgument

FORMATS = ("csv", "jsonl", "parquet")

_LABELS = {"csv": "CSV", "jsonl": "JSONL", "parquet": "Parquet"}
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_CONTENT_TYPES = {
    "text/csv": "csv",
    "application/jsonl": "jsonl",
    "application/x-ndjson": "jsonl",
    "application/json-lines": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}
_SUPPORTED = (
    "csv (.csv, text/csv), jsonl (.jsonl, .ndjson, application/jsonl), "
    "parquet (.parquet, .pq, application/vnd.apache.parquet)"
)


class MalformedDataset(InvalidArgument):
    """A dataset file that cannot be parsed in its format."""

    def __init__(self, fmt: str, detail: str, *, param: str = "source.uri") -> None:
        super().__init__(f"the {_LABELS[fmt]} file is malformed: {detail}", param=param)


def detect_format(name: str, content_type: str | None, head: bytes) -> str:
    """The source's format: by file extension, else content type, else its first bytes."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in _CONTENT_TYPES:
        return _CONTENT_TYPES[media_type]
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"{"):
        return "jsonl"
    seen = ", ".join(
        [
            f"name {name!r}" if name else "no file name",
            f"content type {content_type!r}" if content_type else "no content type",
            f"content starting {head[:16]!r}" if head else "empty content",
        ]
    )
    raise InvalidArgument(
        f"cannot tell the dataset's format ({seen}); supported formats are {_SUPPORTED}", param="source.uri"
    )


def iter_rows(path: Path, fmt: str, *, batch_rows: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """The file's rows as JSON-able dicts, `batch_rows` at a time (the last batch may be shorter)."""
    if fmt == "csv":
        return _batched(_csv_rows(path), batch_rows)
    if fmt == "jsonl":
        return _batched(_jsonl_rows(path), batch_rows)
    if fmt == "parquet":
        return _parquet_batches(path, batch_rows)
    raise ValueError(f"unknown dataset format {fmt!r}; formats are {', '.join(FORMATS)}")


def _batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _text_lines(path: Path, fmt: str) -> Iterator[str]:
    """The file's lines decoded one at a time, so a bad byte is reported with its line."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedDataset(
                    fmt, f"line {number} is not valid UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})"
                ) from None


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    # The csv module refuses cells over 128 KiB (a long conversation's `messages` JSON); the
    # source's byte limit bounds them already. 2**31 - 1 fits a C long everywhere.
    csv.field_size_limit(2**31 - 1)
    reader = csv.reader(_text_lines(path, "csv"))
    header: list[str] | None = None
    try:
        for fields in reader:
            if not fields:
                continue  # a blank line
            if header is None:
                header = fields
                duplicates = sorted({name for name in header if header.count(name) > 1})
                if duplicates:
                    raise MalformedDataset("csv", f"the header names column(s) {', '.join(map(repr, duplicates))} more than once")
                continue
            if len(fields) != len(header):
                raise MalformedDataset(
                    "csv", f"line {reader.line_num} has {len(fields)} fields, the header has {len(header)}"
                )
            yield dict(zip(header, fields))
    except csv.Error as exc:
        raise MalformedDataset("csv", f"line {reader.line_num}: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(_text_lines(path, "jsonl"), start=1):
        if not line.strip():
            continue
        try:
            # NaN and Infinity are Python's extensions to JSON; Postgres jsonb refuses them.
            value = json.loads(line, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise MalformedDataset("jsonl", f"line {number} is not valid JSON: {exc.msg} at column {exc.colno}") from None
        except ValueError as exc:
            raise MalformedDataset("jsonl", f"line {number} is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise MalformedDataset("jsonl", f"line {number} is a JSON {json_kind(value)}, expected an object")
        yield value


def json_kind(value: Any) -> str:
    """JSON's name for the type of a parsed JSON value (what error messages say was found)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _parquet_batches(path: Path, batch_rows: int) -> Iterator[list[dict[str, Any]]]:
    try:
        with pq.ParquetFile(path) as parquet:
            schema = _micros_schema(parquet.schema_arrow)
            for batch in parquet.iter_batches(batch_size=batch_rows):
                # Python's datetime stops at microseconds; nanosecond values would fail to convert.
                rows = batch.cast(schema, safe=False).to_pylist()
                yield [{name: _jsonable(value) for name, value in row.items()} for row in rows]
    except (pa.ArrowException, OSError) as exc:
        raise MalformedDataset("parquet", str(exc)) from None


def _micros_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([field.with_type(_micros(field.type)) for field in schema])


def _micros(t: pa.DataType) -> pa.DataType:
    """`t` with every nanosecond temporal type (however deeply nested) made microseconds."""
    if pa.types.is_timestamp(t) and t.unit == "ns":
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_time64(t) and t.unit == "ns":
        return pa.time64("us")
    if pa.types.is_duration(t) and t.unit == "ns":
        return pa.duration("us")
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_micros(t.value_type)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_micros(t.value_type)))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(t.value_field.with_type(_micros(t.value_type)), t.list_size)
    if pa.types.is_map(t):
        return pa.map_(t.key_field.with_type(_micros(t.key_type)), t.item_field.with_type(_micros(t.item_type)))
    if pa.types.is_struct(t):
        return pa.struct([field.with_type(_micros(field.type)) for field in t])
    return t


def _jsonable(value: Any) -> Any:
    """A value from Arrow as JSON can hold it."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _jsonable(float(value))
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    # Extension types (uuid, ...) come back as their Python objects, whose str is their usual form.
    return str(value)
