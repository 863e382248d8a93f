"""Datasets and their rows in Postgres: a dataset is written with all its rows in one
transaction, so it is either whole or absent."""

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

from stackmesh_common.errors import AlreadyExists, InvalidArgument, NotFound

# json.dumps writes a NUL as \u0000; a text "\u0000" (a real backslash) is \\u0000 and may be stored.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_COLUMNS = "id, purpose, source, metadata, provider_id, owner, row_count, extract(epoch from created_at)::bigint"


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


def _record(row: tuple) -> DatasetRecord:
    return DatasetRecord(*row)


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
                    "INSERT INTO datasets (id, purpose, source, metadata, provider_id, owner) VALUES (%s, %s, %s, %s, %s, %s)",
                    (record.id, record.purpose, Jsonb(record.source), Jsonb(record.metadata), record.provider_id, record.owner),
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

    async def get(self, dataset_id: str, param: str = "dataset_id") -> DatasetRecord:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(f"SELECT {_COLUMNS} FROM datasets WHERE id = %s", (dataset_id,))).fetchone()
        if row is None:
            raise NotFound(f"The dataset `{dataset_id}` does not exist", param=param, reason="dataset_not_found")
        return _record(row)

    async def list(self) -> list[DatasetRecord]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(f"SELECT {_COLUMNS} FROM datasets ORDER BY created_at, id")).fetchall()
        return [_record(row) for row in rows]

    async def delete(self, dataset_id: str) -> None:
        async with self.pool.connection() as conn:
            deleted = await conn.execute("DELETE FROM datasets WHERE id = %s", (dataset_id,))
        if deleted.rowcount == 0:
            raise NotFound(f"The dataset `{dataset_id}` does not exist", param="dataset_id", reason="dataset_not_found")

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
                raise NotFound(f"The dataset `{dataset_id}` does not exist", param="dataset_id", reason="dataset_not_found")
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
