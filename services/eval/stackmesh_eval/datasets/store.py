"""Datasets and their rows in Postgres: a dataset is written with all its rows in one
transaction, so it is either whole or absent.

A dataset belongs to the caller that registered it and is shared by the access rules
(stackmesh_common.access); one the caller may not read is as absent as a missing one. The
distribution's seeded datasets are public: everyone reads them, admins change them.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from stackmesh_common import access
from stackmesh_common.access import Action
from stackmesh_common.errors import AlreadyExists, InvalidArgument, NotFound

# json.dumps writes a NUL as \u0000; a text "\u0000" (a real backslash) is \\u0000 and may be stored.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_COLUMNS = (
    "id, purpose, source, metadata, provider_id, owner, row_count, extract(epoch from created_at)::bigint, owner_attributes, seeded"
)


@dataclass(frozen=True)
class DatasetRecord:
    id: str
    purpose: str
    source: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    provider_id: str = "localfs"
    owner: str = ""
    row_count: int = 0
    created_at: int = 0
    owner_attributes: dict[str, list[str]] = field(default_factory=dict)
    # Registered by the distribution file: public to read.
    seeded: bool = False

    def allows(self, action: Action) -> bool:
        """Whether the caller may do `action` to the dataset."""
        if self.seeded:
            return action is Action.READ or access.is_admin()
        return access.allows(self.owner, self.owner_attributes, action)


def _record(row: tuple) -> DatasetRecord:
    return DatasetRecord(*row)


def _not_found(dataset_id: str, param: str = "dataset_id") -> NotFound:
    return NotFound(f"The dataset `{dataset_id}` does not exist", param=param, reason="dataset_not_found")


def row_json(row: dict[str, Any], index: int, where: str) -> str:
    """A row as Postgres stores it; what JSONB cannot hold is the caller's 400, not a 500."""
    try:
        text = json.dumps(row, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise InvalidArgument(f"row {index} holds NaN or Infinity, which JSON cannot carry", param=f"{where}[{index}]") from None
    if _NUL_ESCAPE.search(text):
        raise InvalidArgument(f"row {index} holds a NUL character (\\u0000), which cannot be stored", param=f"{where}[{index}]")
    return text


class DatasetStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def create(self, record: DatasetRecord, batches: AsyncIterator[list[str]]) -> DatasetRecord:
        """Stores the dataset and every batch of rows (JSON text, from `row_json`); any error
        from `batches` rolls all of it back."""
        async with self.pool.connection() as conn, conn.transaction():
            try:
                await conn.execute(
                    "INSERT INTO datasets (id, purpose, source, metadata, provider_id, owner, owner_attributes, seeded)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        record.id, record.purpose, Jsonb(record.source), Jsonb(record.metadata), record.provider_id,
                        record.owner, Jsonb(record.owner_attributes), record.seeded,
                    ),
                )
            except UniqueViolation:
                raise AlreadyExists(f"a dataset named `{record.id}` is already registered", param="dataset_id") from None
            count = await self._copy_rows(conn, record.id, 0, batches)
            row = await (
                await conn.execute(f"UPDATE datasets SET row_count = %s WHERE id = %s RETURNING {_COLUMNS}", (count, record.id))
            ).fetchone()
        return _record(row)

    async def _copy_rows(self, conn: AsyncConnection, dataset_id: str, first: int, batches: AsyncIterator[list[str]]) -> int:
        index = first
        async with conn.cursor() as cursor:
            async with cursor.copy("COPY dataset_rows (dataset_id, row_index, row) FROM STDIN") as copy:
                async for batch in batches:
                    for text in batch:
                        await copy.write_row((dataset_id, index, text))
                        index += 1
        return index

    async def get(self, dataset_id: str, param: str = "dataset_id", action: Action | None = Action.READ) -> DatasetRecord:
        """The dataset, if the caller may do `action` to it (None: unchecked, for the service's
        own use); otherwise a 404 just like a missing one's."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(f"SELECT {_COLUMNS} FROM datasets WHERE id = %s", (dataset_id,))).fetchone()
        if row is None:
            raise _not_found(dataset_id, param)
        record = _record(row)
        if action is not None and not record.allows(action):
            raise _not_found(dataset_id, param)
        return record

    async def list(self) -> list[DatasetRecord]:
        """The datasets the caller may read: the seeded ones and those the access rules share."""
        visible, args = access.sql_filter(Action.READ)
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM datasets WHERE seeded OR {visible} ORDER BY created_at, id", args)
            ).fetchall()
        return [_record(row) for row in rows]

    async def mark_seeded(self, dataset_id: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE datasets SET seeded = true WHERE id = %s AND NOT seeded", (dataset_id,))

    async def delete(self, dataset_id: str) -> None:
        """Deletes a dataset the caller may change; any other is not found."""
        await self.get(dataset_id, action=Action.WRITE)
        async with self.pool.connection() as conn:
            deleted = await conn.execute("DELETE FROM datasets WHERE id = %s", (dataset_id,))
        if deleted.rowcount == 0:
            raise _not_found(dataset_id)

    async def rows(self, dataset_id: str, start: int, stop: int) -> list[tuple[int, dict[str, Any]]]:
        """Rows with index in [start, stop), in order, with their indexes."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT row_index, row FROM dataset_rows WHERE dataset_id = %s AND row_index >= %s AND row_index < %s"
                    " ORDER BY row_index",
                    (dataset_id, start, stop),
                )
            ).fetchall()
        return [(index, row) for index, row in rows]

    async def append(self, dataset_id: str, rows: list[str], max_rows: int) -> int:
        """Appends rows after the last one (concurrent appends queue on the dataset's lock)."""
        async with self.pool.connection() as conn, conn.transaction():
            row = await (await conn.execute("SELECT row_count FROM datasets WHERE id = %s FOR UPDATE", (dataset_id,))).fetchone()
            if row is None:
                raise _not_found(dataset_id)
            (count,) = row
            if count + len(rows) > max_rows:
                raise InvalidArgument(
                    f"dataset `{dataset_id}` has {count} rows; {len(rows)} more would pass the limit of {max_rows} rows",
                    param="rows",
                )

            async def one_batch() -> AsyncIterator[list[str]]:
                yield rows

            total = await self._copy_rows(conn, dataset_id, count, one_batch())
            await conn.execute("UPDATE datasets SET row_count = %s WHERE id = %s", (total, dataset_id))
        return total
