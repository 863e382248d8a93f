"""Parses a multipart/form-data upload as it streams in: fields in memory, the file to a writer.

python-multipart's push parser calls back synchronously for each piece of the body; the
callbacks only record what they saw, and `feed` then does the (async) writes in order.
What stays in memory is bounded: at most MAX_PARTS parts, each with at most MAX_PART_HEADERS
headers of MAX_HEADER_BYTES and, but for the file, MAX_FIELD_BYTES of value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from stackmesh_common.errors import InvalidArgument, PayloadTooLarge
from stackmesh_vector_io.objects import ObjectWriter

# OpenAI's upload has four parts (file, purpose, expires_after[anchor|seconds]); room for more.
MAX_PARTS = 16
# Form fields other than the file are short (purpose, expiry); refuse a huge one.
MAX_FIELD_BYTES = 16 * 1024
# Per part: a Content-Disposition (with the filename) and a Content-Type, and some to spare.
MAX_PART_HEADERS = 8
MAX_HEADER_BYTES = 4096
FILE_FIELD = "file"


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    value: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    size: int


class MultipartUpload:
    """One upload: feed it the body's pieces, then `finish` to commit the file."""

    def __init__(self, content_type: str, open_writer: Callable[[], Awaitable[ObjectWriter]], max_file_bytes: int) -> None:
        mime, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if mime != b"multipart/form-data" or not boundary:
            raise InvalidArgument(
                f"uploads are multipart/form-data with a boundary, got Content-Type {content_type!r}", param="file"
            )
        self.fields: dict[str, str] = {}
        self.file: UploadedFile | None = None
        self._open_writer = open_writer
        self._max_file_bytes = max_file_bytes
        self._writer: ObjectWriter | None = None
        self._size = 0
        self._part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()
        # What the callbacks saw during one write: file data to store, in order.
        self._pending: list[bytes] = []
        self._ended = False
        self._parts = 0
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": lambda data, start, end: self._header_field.extend(data[start:end]),
                "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
            max_header_count=MAX_PART_HEADERS,
            max_header_size=MAX_HEADER_BYTES,
        )

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise InvalidArgument(f"the upload has more than {MAX_PARTS} form parts", param="file")
        self._part = _Part()

    def _on_header_end(self) -> None:
        self._part.headers[self._header_field.decode("latin-1").lower()] = self._header_value.decode("utf-8", "replace")
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        # As bytes: the parser reads them as latin-1 and hands back the raw bytes of a UTF-8
        # name, where a str must be latin-1 encodable ("文件.txt" made it raise).
        _, params = parse_options_header(self._part.headers.get("content-disposition", "").encode("utf-8"))
        self._part.name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        self._part.filename = filename.decode("utf-8", "replace") if filename is not None else None
        self._part.content_type = self._part.headers.get("content-type", "")
        if self._is_file(self._part):
            if self.file is not None or self._writer is not None:
                raise InvalidArgument("the upload has more than one file; send one `file` part", param="file")
            self.file = UploadedFile(self._part.filename or "", self._part.content_type, 0)

    @staticmethod
    def _is_file(part: _Part) -> bool:
        return part.name == FILE_FIELD

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file(self._part):
            self._size += end - start
            if self._size > self._max_file_bytes:
                raise PayloadTooLarge(f"the file is over the {self._max_file_bytes} byte upload limit", param="file")
            self._pending.append(bytes(data[start:end]))
            return
        self._part.value.extend(data[start:end])
        if len(self._part.value) > MAX_FIELD_BYTES:
            raise PayloadTooLarge(f"form field `{self._part.name}` is over {MAX_FIELD_BYTES} bytes", param=self._part.name)

    def _on_part_end(self) -> None:
        if not self._is_file(self._part):
            self.fields[self._part.name] = self._part.value.decode("utf-8", "replace")

    def _on_end(self) -> None:
        self._ended = True

    async def feed(self, data: bytes) -> None:
        try:
            self._parser.write(data)
        except MultipartParseError as exc:
            # The parser's own limits land here too: "Maximum header size exceeded".
            raise InvalidArgument(f"the multipart body is malformed: {exc}", param="file") from None
        if self.file is not None and self._writer is None:
            self._writer = await self._open_writer()
        for piece in self._pending:
            assert self._writer is not None
            await self._writer.write(piece)
        self._pending.clear()

    async def finish(self) -> UploadedFile:
        """Checks the body ended properly and commits the file."""
        if not self._ended:
            raise InvalidArgument("the multipart body ended before its closing boundary", param="file")
        if self.file is None or self._writer is None:
            raise InvalidArgument("`file` is required: a form part named `file`", param="file")
        await self._writer.commit()
        self.file = UploadedFile(self.file.filename, self.file.content_type, self._size)
        return self.file

    async def abort(self) -> None:
        if self._writer is not None:
            await self._writer.abort()
