"""A file's bytes to the text that gets chunked, by type: text and code, Markdown, HTML, JSON, PDF.

The type comes from the file name's extension, else from the content type given at upload.
Formats are read with maintained libraries (pypdf, BeautifulSoup, markdown-it, json).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
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


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(INVALID, f"the file is not UTF-8 text (byte {exc.start} is not valid)") from None


def _markdown(data: bytes) -> str:
    from markdown_it import MarkdownIt

    parts: list[str] = []
    for token in MarkdownIt("commonmark").parse(_decode(data)):
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


def _html(data: bytes) -> str:
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


def _json(data: bytes) -> str:
    try:
        return "\n".join(_json_lines(json.loads(_decode(data))))
    except json.JSONDecodeError as exc:
        raise ParseError(INVALID, f"the file is not valid JSON: {exc}") from None


def _jsonl(data: bytes) -> str:
    records = []
    for number, line in enumerate(_decode(data).splitlines(), start=1):
        if line.strip():
            try:
                records.append("\n".join(_json_lines(json.loads(line))))
            except json.JSONDecodeError as exc:
                raise ParseError(INVALID, f"line {number} is not valid JSON: {exc}") from None
    return "\n\n".join(records)


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(INVALID, "the PDF is encrypted with a password")
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise ParseError(INVALID, f"the PDF could not be read: {exc}") from None


def _plain(data: bytes) -> str:
    return _decode(data)


_PARSERS: dict[str, Callable[[bytes], str]] = {
    ".md": _markdown, ".markdown": _markdown, ".html": _html, ".htm": _html, ".json": _json, ".jsonl": _jsonl,
    ".pdf": _pdf, **{ext: _plain for ext in _PLAIN},
}  # fmt: skip


def file_type(filename: str, content_type: str) -> str:
    """The extension that decides the parser: the name's, else one implied by the content type."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix:
        return suffix
    mime = content_type.split(";")[0].strip().lower()
    return _BY_CONTENT_TYPE.get(mime, ".txt" if mime.startswith("text/") else "")


def extract_text(data: bytes, filename: str, content_type: str) -> str:
    """The file's text; raises ParseError for types we cannot read and for damaged files."""
    kind = file_type(filename, content_type)
    parser = _PARSERS.get(kind)
    if parser is None:
        raise ParseError(
            UNSUPPORTED,
            f"files of type {kind or 'unknown'!r} cannot be searched; supported: {', '.join(sorted(_PARSERS))}",
        )
    text = parser(data)
    if not text.strip():
        raise ParseError(INVALID, "the file has no text to search")
    return text
