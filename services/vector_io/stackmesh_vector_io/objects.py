"""Where file bytes live: an object store interface and its local-directory implementation."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol

from stackmesh_common.errors import NotFound

# Object keys are ours (file ids), never a client's path: refuse anything else.
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
READ_CHUNK_BYTES = 1024 * 1024


class ObjectWriter(Protocol):
    """An object being written: nothing is visible under its key until `commit`."""

    async def write(self, data: bytes) -> None: ...

    async def commit(self) -> None: ...

    async def abort(self) -> None: ...


class ObjectStore(Protocol):
    async def writer(self, key: str) -> ObjectWriter: ...

    def read_chunks(self, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, key: str) -> None: ...


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"invalid object key {key!r}")
    return key


class _LocalWriter:
    # Writes go through a thread, a buffer of this many bytes at a time, keeping disk I/O off the loop.
    FLUSH_BYTES = 1024 * 1024

    def __init__(self, final: Path, temporary: Path, file: BinaryIO) -> None:
        self.final = final
        self.temporary = temporary
        self.file = file
        self._buffer: list[bytes] = []
        self._buffered = 0

    async def write(self, data: bytes) -> None:
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= self.FLUSH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        data, self._buffer, self._buffered = b"".join(self._buffer), [], 0
        await asyncio.to_thread(self.file.write, data)

    async def commit(self) -> None:
        await self._flush()

        def finish() -> None:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.temporary, self.final)

        await asyncio.to_thread(finish)

    async def abort(self) -> None:
        self.file.close()
        self.temporary.unlink(missing_ok=True)


class LocalDirectoryStore:
    """Objects as files in one directory; a write lands under a temporary name, then is renamed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.directory / _checked(key)

    async def writer(self, key: str) -> _LocalWriter:
        final = self._path(key)
        temporary = self.directory / f".partial-{uuid.uuid4().hex}"
        return _LocalWriter(final, temporary, await asyncio.to_thread(open, temporary, "wb"))

    async def read_chunks(self, key: str) -> AsyncIterator[bytes]:
        try:
            file = await asyncio.to_thread(open, self._path(key), "rb")
        except FileNotFoundError:
            raise NotFound(f"the content of `{key}` is gone from the object store") from None
        try:
            while chunk := await asyncio.to_thread(file.read, READ_CHUNK_BYTES):
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)
