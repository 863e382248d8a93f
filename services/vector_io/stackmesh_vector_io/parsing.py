"""A file's bytes to the text that gets chunked, by type: text and code, Markdown, HTML, JSON, PDF.

The type comes from the file name's extension, else from the content type given at upload.
Formats are read with maintained libraries (pypdf, BeautifulSoup, markdown-it, json). A file
over the ingestion limits (its size, the characters of its text) fails as soon as that shows.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

# OpenAI's last_error codes.
UNSUPPORTED = "unsupported_file"
INVALID = "invalid_file"

_PLAIN = {
    ".txt", ".text", ".log", ".csv", ".tsv", ".xml", ".yaml", ".yml", ".rst", ".tex", ".ini", ".toml", ".c", ".h",
    ".cpp", ".hpp", ".cs", ".css", ".go", ".java", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".php", ".py", ".rb",
    ".rs", ".sh", ".sql", ".kt", ".swift", ".scala",
}  # fmt: skip
_BY_CONTENT_TYPE = {
    "text/markdown": ".md",
    "text/html": ".html",
    "application/json": ".json",
    "application/jsonl": ".jsonl",
    "application/x-ndjson": ".jsonl",
    "application/pdf": ".pdf",
}
_BLANK_LINES = re.compile(r"\n\s*\n+")


class ParseError(Exception):
    """Why a file yields no text; `code` is OpenAI's last_error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _too_much_text(max_chars: int) -> ParseError:
    return ParseError(INVALID, f"the file has more than {max_chars} characters of text, the ingestion limit (max_text_chars)")


def _joined(pieces: Iterable[str], separator: str, max_chars: int) -> str:
    """`separator.join(pieces)`, given up once over `max_chars`: a small JSON file can expand
    into far more text (every scalar's line repeats its path)."""
    parts: list[str] = []
    total = 0
    for piece in pieces:
        total += len(piece) + len(separator)
        if total > max_chars + len(separator):
            raise _too_much_text(max_chars)
        parts.append(piece)
    return separator.join(parts)


def _markdown(source: str, max_chars: int) -> str:
    from markdown_it import MarkdownIt

    parts: list[str] = []
    for token in MarkdownIt("commonmark").parse(source):
        if token.type == "inline":
            for child in token.children or []:
                if child.type in ("text", "code_inline"):
                    parts.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append("\n")
            parts.append("\n\n")
        elif token.type in ("fence", "code_block"):
            parts.append(token.content + "\n")
    return "".join(parts)


def _html(data: bytes, max_chars: int) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for hidden in soup(["script", "style", "template", "noscript"]):
        hidden.decompose()
    return _BLANK_LINES.sub("\n\n", soup.get_text("\n"))


def _json_lines(value: Any, path: str = "") -> Iterator[str]:
    """One `path: value` line per scalar, so a chunk keeps what each value belongs to."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_lines(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_lines(item, f"{path}[{index}]")
    else:
        yield f"{path}: {value}" if path else str(value)


def _json(source: str, max_chars: int) -> str:
    try:
        return _joined(_json_lines(json.loads(source)), "\n", max_chars)
    except json.JSONDecodeError as exc:
        raise ParseError(INVALID, f"the file is not valid JSON: {exc}") from None
    except RecursionError:
        raise ParseError(INVALID, "the JSON nests too deeply to read") from None


def _jsonl_records(source: str, max_chars: int) -> Iterator[str]:
    for number, line in enumerate(source.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = _joined(_json_lines(json.loads(line)), "\n", max_chars)
        except json.JSONDecodeError as exc:
            raise ParseError(INVALID, f"line {number} is not valid JSON: {exc}") from None
        except RecursionError:
            raise ParseError(INVALID, f"line {number} nests too deeply to read") from None
        yield record


def _jsonl(source: str, max_chars: int) -> str:
    return _joined(_jsonl_records(source, max_chars), "\n\n", max_chars)


def _pdf(data: bytes, max_chars: int) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(INVALID, "the PDF is encrypted with a password")
        return _joined((page.extract_text() or "" for page in reader.pages), "\n\n", max_chars)
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise ParseError(INVALID, f"the PDF could not be read: {exc}") from None


def _plain(source: str, max_chars: int) -> str:
    return source


@dataclass(frozen=True)
class _Format:
    # (source, max_chars) -> text; the source is the decoded text, or the bytes where not `decoded`.
    parse: Callable[[Any, int], str]
    # UTF-8 formats are decoded as the file is read; the others parse the whole file's bytes
    # (pypdf seeks to the cross-reference table at the end, BeautifulSoup builds one tree).
    decoded: bool = True


_FORMATS: dict[str, _Format] = {
    ".md": _Format(_markdown), ".markdown": _Format(_markdown), ".html": _Format(_html, decoded=False),
    ".htm": _Format(_html, decoded=False), ".json": _Format(_json), ".jsonl": _Format(_jsonl),
    ".pdf": _Format(_pdf, decoded=False), **{ext: _Format(_plain) for ext in _PLAIN},
}  # fmt: skip


def file_type(filename: str, content_type: str) -> str:
    """The extension that decides the parser: the name's, else one implied by the content type."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix:
        return suffix
    mime = content_type.split(";")[0].strip().lower()
    return _BY_CONTENT_TYPE.get(mime, ".txt" if mime.startswith("text/") else "")


class TextExtractor:
    """One file's text, within the ingestion limits: `feed` it the file's bytes as they are read,
    then `finish` (CPU-bound: run it off the event loop)."""

    def __init__(self, filename: str, content_type: str, size: int, max_bytes: int, max_chars: int) -> None:
        kind = file_type(filename, content_type)
        if kind not in _FORMATS:
            raise ParseError(
                UNSUPPORTED,
                f"files of type {kind or 'unknown'!r} cannot be searched; supported: {', '.join(sorted(_FORMATS))}",
            )
        self._format = _FORMATS[kind]
        self._max_bytes = max_bytes
        self._max_chars = max_chars
        self._check_size(size)
        self._size = 0
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._pieces: list[Any] = []
        self._chars = 0

    def _check_size(self, size: int) -> None:
        if size > self._max_bytes:
            raise ParseError(
                INVALID, f"the file is over the ingestion limit of {self._max_bytes} bytes (max_file_bytes)"
            )

    def feed(self, data: bytes, final: bool = False) -> None:
        self._size += len(data)
        self._check_size(self._size)
        if not self._format.decoded:
            self._pieces.append(data)
            return
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            position = self._size - len(data) - pending + exc.start
            raise ParseError(INVALID, f"the file is not UTF-8 text (byte {position} is not valid)") from None
        self._chars += len(text)
        if self._chars > self._max_chars:
            raise _too_much_text(self._max_chars)
        self._pieces.append(text)

    def finish(self) -> str:
        """The file's text; raises ParseError for damaged files and ones over the limits."""
        if self._format.decoded:
            self.feed(b"", final=True)
            source: Any = "".join(self._pieces)
        else:
            source = b"".join(self._pieces)
        self._pieces.clear()
        # NUL has no meaning in text to search, and Postgres cannot store it.
        text = self._format.parse(source, self._max_chars).replace("\x00", "")
        if len(text) > self._max_chars:
            raise _too_much_text(self._max_chars)
        if not text.strip():
            raise ParseError(INVALID, "the file has no text to search")
        return text
