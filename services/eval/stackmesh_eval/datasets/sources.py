"""Where a dataset's bytes come from: data: URIs, Files API ids, local paths and http(s) URLs."""

from __future__ import annotations

import asyncio
import base64
import binascii
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import httpx

from stackmesh_common.errors import InvalidArgument, NotFound, PayloadTooLarge
from stackmesh_common.peers.files import FilesClient

PARAM = "source.uri"
CHUNK_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
_FORMS = (
    "a data: URI, a Files API file id (file-...), an http:// or https:// URL, "
    "or an absolute local path (file:///... or /...) under a configured local root"
)
# Long URIs (data: ones above all) are cut short in messages.
_SHOWN_CHARS = 200


@dataclass(frozen=True)
class SourceLimits:
    max_bytes: int
    fetch_timeout_s: float
    local_roots: tuple[Path, ...]


@dataclass(frozen=True)
class FetchedSource:
    # A file name or URL path: its extension is the first hint of the format ("" when none).
    name: str
    content_type: str | None
    size: int


async def fetch_source(uri: str, dest: BinaryIO, *, files: FilesClient | None, limits: SourceLimits) -> FetchedSource:
    """Write the bytes `uri` names into `dest`, refusing sources over `limits.max_bytes`."""
    lowered = uri.lower()
    if lowered.startswith("data:"):
        return await _fetch_data(uri, dest, limits)
    if uri.startswith("file-"):
        return await _fetch_file(uri, dest, files, limits)
    if lowered.startswith("file:") or uri.startswith("/"):
        return await _fetch_local(uri, dest, limits)
    if lowered.startswith(("http://", "https://")):
        return await _fetch_http(uri, dest, limits)
    raise InvalidArgument(f"unsupported dataset source {_shown(uri)}; use {_FORMS}", param=PARAM)


def _shown(uri: str) -> str:
    return f"`{uri}`" if len(uri) <= _SHOWN_CHARS else f"`{uri[:_SHOWN_CHARS]}...`"


def _too_large(limits: SourceLimits, size: int | None = None) -> PayloadTooLarge:
    found = f" ({size} bytes)" if size is not None else ""
    return PayloadTooLarge(
        f"the dataset source{found} is larger than the limit of {limits.max_bytes} bytes", param=PARAM
    )


async def _fetch_data(uri: str, dest: BinaryIO, limits: SourceLimits) -> FetchedSource:
    header, comma, payload = uri[len("data:") :].partition(",")
    if not comma:
        raise InvalidArgument(
            "a data: URI needs a comma before its data: data:[<mediatype>][;base64],<data>", param=PARAM
        )
    params = header.split(";")
    is_base64 = params[-1].strip().lower() == "base64"
    media_type = params[0].strip().lower()
    raw = unquote_to_bytes(payload)
    if is_base64:
        try:
            data = base64.b64decode(b"".join(raw.split()), validate=True)
        except binascii.Error as exc:
            raise InvalidArgument(f"the data: URI's base64 data is invalid: {exc}", param=PARAM) from None
    else:
        data = raw
    if len(data) > limits.max_bytes:
        raise _too_large(limits, len(data))
    await asyncio.to_thread(dest.write, data)
    return FetchedSource(name="", content_type=media_type if "/" in media_type else None, size=len(data))


async def _fetch_file(file_id: str, dest: BinaryIO, files: FilesClient | None, limits: SourceLimits) -> FetchedSource:
    if files is None:
        raise InvalidArgument(
            f"cannot read `{file_id}`: the Files API (vector_io service) is not in this distribution", param=PARAM
        )
    # A missing file comes back as the Files API's NotFound ("file `file-...` not found").
    file = await files.get(file_id, timeout_s=limits.fetch_timeout_s, param=PARAM)
    if file.bytes > limits.max_bytes:
        raise _too_large(limits, file.bytes)
    data = await files.read(file_id, timeout_s=limits.fetch_timeout_s, param=PARAM)
    if len(data) > limits.max_bytes:
        raise _too_large(limits, len(data))
    await asyncio.to_thread(dest.write, data)
    return FetchedSource(name=file.filename, content_type=None, size=len(data))


def _local_path(uri: str) -> Path:
    if uri.startswith("/"):
        return Path(uri)
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise InvalidArgument(
            f"a file: URI must name an absolute path on this host (file:///path/to/data.csv), got {_shown(uri)}",
            param=PARAM,
        )
    return Path(unquote(parts.path))


async def _fetch_local(uri: str, dest: BinaryIO, limits: SourceLimits) -> FetchedSource:
    path = _local_path(uri)
    return await asyncio.to_thread(_copy_local, path, dest, limits)


def _copy_local(path: Path, dest: BinaryIO, limits: SourceLimits) -> FetchedSource:
    if not limits.local_roots:
        raise InvalidArgument(
            f"cannot read local path `{path}`: no local roots are configured "
            "(set services.eval.settings.datasets.local_roots)",
            param=PARAM,
        )
    try:
        # Resolving symlinks and `..` first is what keeps a path from escaping its root.
        resolved = path.resolve()
        roots = [root.resolve() for root in limits.local_roots]
    except (OSError, RuntimeError, ValueError) as exc:
        raise InvalidArgument(f"cannot resolve local path `{path}`: {exc}", param=PARAM) from None
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in limits.local_roots)
        raise InvalidArgument(f"local path `{path}` is outside the allowed roots ({allowed})", param=PARAM)
    try:
        info = resolved.stat()
    except FileNotFoundError:
        raise NotFound(f"no file at local path `{path}`", param=PARAM) from None
    # A FIFO or device would block or never end.
    if not stat.S_ISREG(info.st_mode):
        raise InvalidArgument(f"local path `{path}` is not a regular file", param=PARAM)
    if info.st_size > limits.max_bytes:
        raise _too_large(limits, info.st_size)
    try:
        source = resolved.open("rb")
    except PermissionError:
        raise InvalidArgument(f"the eval service may not read local path `{path}` (permission denied)", param=PARAM) from None
    size = 0
    with source:
        while chunk := source.read(CHUNK_BYTES):
            size += len(chunk)
            # The file may have grown since it was measured.
            if size > limits.max_bytes:
                raise _too_large(limits)
            dest.write(chunk)
    return FetchedSource(name=path.name, content_type=None, size=size)


async def _fetch_http(url: str, dest: BinaryIO, limits: SourceLimits) -> FetchedSource:
    size = 0
    try:
        async with httpx.AsyncClient(
            timeout=limits.fetch_timeout_s, follow_redirects=True, max_redirects=MAX_REDIRECTS
        ) as client:
            async with client.stream("GET", url) as response:
                if not response.is_success:
                    raise InvalidArgument(
                        f"fetching {_shown(url)} answered HTTP {response.status_code} {response.reason_phrase}".rstrip(),
                        param=PARAM,
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limits.max_bytes:
                    raise _too_large(limits, int(declared))
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    size += len(chunk)
                    if size > limits.max_bytes:
                        raise _too_large(limits)
                    await asyncio.to_thread(dest.write, chunk)
                content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    except httpx.TooManyRedirects:
        raise InvalidArgument(f"cannot fetch {_shown(url)}: more than {MAX_REDIRECTS} redirects", param=PARAM) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        reason = str(exc) or type(exc).__name__
        raise InvalidArgument(f"cannot fetch {_shown(url)}: {reason}", param=PARAM) from None
    return FetchedSource(name=unquote(urlsplit(url).path), content_type=content_type or None, size=size)
