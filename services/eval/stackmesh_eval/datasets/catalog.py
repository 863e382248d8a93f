"""Registering datasets from a URI or inline rows, paging and appending their rows."""

from __future__ import annotations

import asyncio
import re
import tempfile
import uuid
from dataclasses import replace
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from stackmesh_common import access
from stackmesh_common.access import Action
from stackmesh_common.call_context import ANONYMOUS
from stackmesh_common.errors import AlreadyExists, InvalidArgument, NotFound
from stackmesh_common.peers import FilesClient
from stackmesh_eval.datasets.formats import detect_format, iter_rows
from stackmesh_eval.datasets.purposes import check_purpose, normalize_row
from stackmesh_eval.datasets.sources import SourceLimits, fetch_source
from stackmesh_eval.datasets.store import DatasetRecord, DatasetStore, row_json
from stackmesh_eval.settings import DatasetSettings

PROVIDER_ID = "localfs"
# Ids travel in URL paths: one segment, no tricks.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,255}")
# Bytes read to recognise a file's format when its name and type do not say.
_HEAD_BYTES = 512
# Rows parsed per step; each step runs in a thread, so the event loop stays free.
_BATCH_ROWS = 1000
# Rows one iterrows page returns at most (has_more pages on).
MAX_PAGE_ROWS = 10_000


def check_id(value: str, param: str, noun: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise InvalidArgument(
            f"`{param}` {value!r} is not a valid {noun} id: use 1 to 256 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
            param=param,
        )
    return value


class Datasets:
    def __init__(self, store: DatasetStore, files: FilesClient | None, settings: DatasetSettings, state_dir: Path) -> None:
        self.store = store
        self.files = files
        self.settings = settings
        roots = tuple(root if root.is_absolute() else state_dir / root for root in settings.local_roots)
        self.limits = SourceLimits(max_bytes=settings.max_source_bytes, fetch_timeout_s=settings.fetch_timeout_s, local_roots=roots)

    async def register(
        self, purpose: str, source: dict[str, Any], metadata: dict[str, Any], dataset_id: str | None
    ) -> DatasetRecord:
        check_purpose(purpose)
        dataset_id = check_id(dataset_id, "dataset_id", "dataset") if dataset_id else f"dataset-{uuid.uuid4().hex}"
        record = DatasetRecord(dataset_id, purpose, {}, metadata, PROVIDER_ID, access.owner(), owner_attributes=access.owner_attributes())
        kind = source.get("type")
        if kind == "rows":
            rows = source.get("rows") or []
            record = replace(record, source={"type": "rows"})
            return await self.store.create(record, self._checked(_in_thread(iter([rows])), purpose, "source.rows"))
        if kind == "uri":
            uri = source.get("uri") or ""
            if not uri:
                raise InvalidArgument("`source.uri` is required for a source of type uri", param="source.uri")
            record = replace(record, source={"type": "uri", "uri": _shown_uri(uri)})
            with tempfile.NamedTemporaryFile(prefix="dataset-") as spool:
                fetched = await fetch_source(uri, spool, files=self.files, limits=self.limits)
                spool.flush()
                return await self._create_from_file(record, Path(spool.name), fetched.name, fetched.content_type)
        raise InvalidArgument(f"`source.type` must be 'uri' or 'rows', got {kind!r}", param="source.type")

    async def register_shipped(self, dataset_id: str, purpose: str, path: Path, metadata: dict[str, Any]) -> DatasetRecord | None:
        """A dataset the distribution ships (trusted: no local-root check), public to read; kept
        when already there."""
        try:
            existing = await self.store.get(dataset_id, action=None)
        except NotFound:
            pass
        else:
            await self.store.mark_seeded(dataset_id)
            return existing
        check_purpose(purpose)
        record = DatasetRecord(
            check_id(dataset_id, "dataset_id", "dataset"), purpose, {"type": "uri", "uri": path.as_uri()}, metadata, PROVIDER_ID, ANONYMOUS,
            seeded=True,
        )
        try:
            return await self._create_from_file(record, path, path.name, None)
        except AlreadyExists:
            return None  # another replica registered it first

    async def _create_from_file(self, record: DatasetRecord, path: Path, name: str, content_type: str | None) -> DatasetRecord:
        with path.open("rb") as file:
            head = file.read(_HEAD_BYTES)
        fmt = detect_format(name, content_type, head)
        rows = _in_thread(iter_rows(path, fmt, batch_rows=_BATCH_ROWS))
        return await self.store.create(record, self._checked(rows, record.purpose, "source.uri"))

    async def _checked(self, batches: AsyncIterator[list[dict[str, Any]]], purpose: str, where: str) -> AsyncIterator[list[str]]:
        """Each row checked against the purpose and the row limit, as JSON text."""
        index = 0
        async for batch in batches:
            texts = []
            for row in batch:
                if index >= self.settings.max_rows:
                    raise InvalidArgument(f"the dataset has more than {self.settings.max_rows} rows, the limit", param=where)
                texts.append(row_json(normalize_row(purpose, index, row, where=where), index, where))
                index += 1
            yield texts

    async def page(self, dataset_id: str, start_index: int | None, limit: int | None) -> tuple[list[dict[str, Any]], int | None]:
        """Rows from `start_index`, at most `limit` (all remaining when unset or -1, in pages
        of MAX_PAGE_ROWS), and the index of the next page or None."""
        start = start_index or 0
        if start < 0:
            raise InvalidArgument(f"`start_index` must be 0 or more, got {start}", param="start_index")
        if limit is not None and limit != -1 and limit < 1:
            raise InvalidArgument(f"`limit` must be at least 1 (or -1 for all rows), got {limit}", param="limit")
        record = await self.store.get(dataset_id)
        wanted = MAX_PAGE_ROWS if limit in (None, -1) else min(limit, MAX_PAGE_ROWS)
        stop = min(start + wanted, record.row_count)
        rows = [row for _, row in await self.store.rows(dataset_id, start, stop)] if start < stop else []
        return rows, (stop if stop < record.row_count else None)

    async def append(self, dataset_id: str, rows: list[dict[str, Any]]) -> int:
        if not rows:
            raise InvalidArgument("`rows` must hold at least one row", param="rows")
        record = await self.store.get(dataset_id, action=Action.WRITE)
        texts = [
            row_json(normalize_row(record.purpose, i, row, where="rows"), i, "rows")
            for i, row in enumerate(rows)
        ]
        return await self.store.append(dataset_id, texts, self.settings.max_rows)


def _shown_uri(uri: str) -> str:
    # A data: URI can be megabytes: the dataset keeps its media type, not its content.
    return uri.split(",", 1)[0] + ",…" if uri[:5].lower() == "data:" else uri


async def _in_thread(batches: Iterator[list[dict[str, Any]]]) -> AsyncIterator[list[dict[str, Any]]]:
    done = object()
    while (batch := await asyncio.to_thread(next, batches, done)) is not done:
        yield batch

