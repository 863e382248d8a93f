"""inline::sqlite-vec: chunks in one embedded SQLite file, sqlite-vec for vectors, FTS5 for words.

Per store: a table of chunks, a vec0 table of their embeddings (exact cosine KNN) and an FTS5
table of their text (BM25), all keyed by the chunk's rowid. Filters and expiry narrow the
KNN with `rowid IN (...)`, so filtered results are exact too. SQLite calls block, so they
run on one thread of their own; WAL mode lets a worker process write while the service reads.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import apsw
import numpy as np
from pydantic import BaseModel, Field

from stackmesh_common.errors import InvalidArgument
from stackmesh_vector_io.db_errors import redacted
from stackmesh_vector_io.filters import Compound, Filter, Scalar
from stackmesh_vector_io.providers.base import Hit, ProviderContext, StoredChunk

T = TypeVar("T")
_STORE_ID = re.compile(r"^[A-Za-z0-9_]{1,50}$")
_WORD = re.compile(r"\w+")
# sqlite-vec's vec0 tables take up to this many dimensions.
MAX_DIMENSION = 8192
_COLUMNS = "chunk_id, file_id, position, text, content, metadata, chunk_metadata, attributes, expires_at"
_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class Config(BaseModel):
    # The database file; `<state_dir>/data/vector_io/sqlite_vec.db` when empty.
    path: str = ""
    # Milliseconds a writer waits for another process's write lock before failing.
    busy_timeout_ms: int = Field(default=30_000, ge=0)


def _names(store_id: str) -> tuple[str, str, str]:
    if not _STORE_ID.match(store_id):
        raise InvalidArgument(f"invalid vector store id {store_id!r}", param="vector_store_id")
    return f'"chunks_{store_id}"', f'"vec_{store_id}"', f'"fts_{store_id}"'


def _json_path(key: str) -> str:
    # filters.py refuses keys with quotes or backslashes, so quoting the key is enough.
    return f'$."{key}"'


def _equals(key: str, value: Any, args: list[Any]) -> str:
    path = _json_path(key)
    if isinstance(value, bool):
        args.append(path)
        return f"coalesce(json_type(attributes, ?) = '{'true' if value else 'false'}', 0)"
    kinds = "('text')" if isinstance(value, str) else "('integer', 'real')"
    args.extend([path, path, value])
    return f"coalesce(json_type(attributes, ?) IN {kinds} AND json_extract(attributes, ?) = ?, 0)"


def _member(key: str, values: tuple[Scalar, ...], args: list[Any]) -> str:
    """Whether attribute `key` is one of `values`, of the same JSON type. Each type's values are
    one JSON array parameter that `json_each` unpacks: an `x = ? OR x = ? ...` per value would
    exceed SQLite's expression depth at a few hundred values."""
    path = _json_path(key)
    tests = []
    for kinds, members in (
        ("('text')", [v for v in values if isinstance(v, str)]),
        ("('integer', 'real')", [v for v in values if isinstance(v, float)]),
    ):
        if members:
            args.extend([path, path, json.dumps(members)])
            tests.append(f"(json_type(attributes, ?) IN {kinds} AND json_extract(attributes, ?) IN (SELECT value FROM json_each(?)))")
    flags = sorted({"true" if v else "false" for v in values if isinstance(v, bool)})
    if flags:
        args.append(path)
        tests.append(f"json_type(attributes, ?) IN ({', '.join(repr(f) for f in flags)})")
    return f"coalesce({' OR '.join(tests)}, 0)"


def _balanced(joiner: str, parts: list[str]) -> str:
    """`parts` joined as a balanced tree: SQLite parses `a OR b OR c ...` into a tree as deep as
    its terms are many, and refuses one deeper than 1,000."""
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    return f"({_balanced(joiner, parts[:middle])}{joiner}{_balanced(joiner, parts[middle:])})"


def _compile(node: Filter, args: list[Any]) -> str:
    """SQL over the JSON `attributes` column that holds where `node` holds (filters.py semantics)."""
    if isinstance(node, Compound):
        return "(" + _balanced(" AND " if node.op == "and" else " OR ", [_compile(f, args) for f in node.filters]) + ")"
    if node.op in ("eq", "ne"):
        test = _equals(node.key, node.value, args)
        return test if node.op == "eq" else f"NOT {test}"
    if node.op in ("in", "nin"):
        test = _member(node.key, node.value, args)  # type: ignore[arg-type]
        return test if node.op == "in" else f"NOT {test}"
    path = _json_path(node.key)
    kinds = "('text')" if isinstance(node.value, str) else "('integer', 'real')"
    args.extend([path, path, node.value])
    return f"coalesce(json_type(attributes, ?) IN {kinds} AND json_extract(attributes, ?) {_OPS[node.op]} ?, 0)"


def _where(where: Filter | None, args: list[Any]) -> str:
    args.append(int(time.time()))
    live = "(expires_at IS NULL OR expires_at > ?)"
    return live if where is None else f"{live} AND {_compile(where, args)}"


def _chunk(row: tuple[Any, ...], embedding: bytes | None = None) -> StoredChunk:
    chunk_id, file_id, position, text, content, metadata, chunk_metadata, attributes, expires_at = row
    return StoredChunk(
        chunk_id=chunk_id,
        file_id=file_id,
        position=position,
        text=text,
        embedding=None if embedding is None else np.frombuffer(embedding, dtype=np.float32),
        content=json.loads(content) if content is not None else None,
        metadata=json.loads(metadata),
        chunk_metadata=json.loads(chunk_metadata),
        attributes=json.loads(attributes),
        expires_at=expires_at,
    )


def _fts_phrases(query: str) -> list[str]:
    """The query's words as FTS5 phrases (quotes doubled), so punctuation is never syntax."""
    return ['"' + word.replace('"', '""') + '"' for word in _WORD.findall(query)]


class SqliteVecProvider:
    def __init__(self, connection: Any, executor: ThreadPoolExecutor) -> None:
        self.db = connection
        self._executor = executor

    async def _run(self, work: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work)
        except apsw.Error as exc:
            raise redacted(exc) from None

    def _rows(self, query: str, args: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return list(self.db.execute(query, args))

    async def create_store(self, store_id: str, dimension: int) -> None:
        if not 1 <= dimension <= MAX_DIMENSION:
            raise InvalidArgument(
                f"sqlite-vec takes embeddings of 1 to {MAX_DIMENSION} dimensions, got {dimension}", param="embedding_dimension"
            )
        chunks, vectors, words = _names(store_id)

        def create() -> None:
            with self.db:
                self.db.execute(
                    f"CREATE TABLE IF NOT EXISTS {chunks} (rowid INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE,"
                    " file_id TEXT NOT NULL, position INTEGER NOT NULL, text TEXT NOT NULL, content TEXT,"
                    " metadata TEXT NOT NULL, chunk_metadata TEXT NOT NULL, attributes TEXT NOT NULL, expires_at INTEGER)"
                )
                self.db.execute(f'CREATE INDEX IF NOT EXISTS "{store_id}_file" ON {chunks} (file_id, position)')
                self.db.execute(
                    f'CREATE INDEX IF NOT EXISTS "{store_id}_expiring" ON {chunks} (expires_at) WHERE expires_at IS NOT NULL'
                )
                self.db.execute(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS {vectors} USING vec0(embedding float[{dimension}] distance_metric=cosine)"
                )
                self.db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {words} USING fts5(text, tokenize='porter unicode61')")

        await self._run(create)

    async def delete_store(self, store_id: str) -> None:
        chunks, vectors, words = _names(store_id)

        def drop() -> None:
            with self.db:
                for table in (vectors, words, chunks):
                    self.db.execute(f"DROP TABLE IF EXISTS {table}")

        await self._run(drop)

    def _delete_rows(self, store_id: str, where: str, args: list[Any]) -> None:
        chunks, vectors, words = _names(store_id)
        rowids = [(r[0],) for r in self._rows(f"SELECT rowid FROM {chunks} WHERE {where}", args)]
        self.db.executemany(f"DELETE FROM {vectors} WHERE rowid = ?", rowids)
        self.db.executemany(f"DELETE FROM {words} WHERE rowid = ?", rowids)
        self.db.executemany(f"DELETE FROM {chunks} WHERE rowid = ?", rowids)

    def _insert_rows(self, store_id: str, batch: list[StoredChunk]) -> None:
        chunks, vectors, words = _names(store_id)
        for chunk in batch:
            self.db.execute(
                f"INSERT INTO {chunks} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (chunk.chunk_id, chunk.file_id, chunk.position, chunk.text,
                 None if chunk.content is None else json.dumps(chunk.content), json.dumps(chunk.metadata),
                 json.dumps(chunk.chunk_metadata), json.dumps(chunk.attributes), chunk.expires_at),
            )  # fmt: skip
            rowid = self.db.last_insert_rowid()
            self.db.execute(
                f"INSERT INTO {vectors} (rowid, embedding) VALUES (?, ?)",
                (rowid, np.asarray(chunk.embedding, dtype=np.float32).tobytes()),
            )
            self.db.execute(f"INSERT INTO {words} (rowid, text) VALUES (?, ?)", (rowid, chunk.text))

    async def replace_file_chunks(self, store_id: str, file_id: str, chunks: list[StoredChunk]) -> None:
        def replace() -> None:
            # One transaction: a redelivered job's replacement leaves exactly one set of chunks.
            with self.db:
                self._delete_rows(store_id, "file_id = ?", [file_id])
                self._insert_rows(store_id, chunks)

        await self._run(replace)

    async def insert_chunks(self, store_id: str, chunks: list[StoredChunk]) -> None:
        def insert() -> None:
            with self.db:
                ids = [c.chunk_id for c in chunks]
                for start in range(0, len(ids), 500):
                    part = ids[start : start + 500]
                    self._delete_rows(store_id, f"chunk_id IN ({', '.join('?' * len(part))})", part)
                self._insert_rows(store_id, list({c.chunk_id: c for c in chunks}.values()))

        await self._run(insert)

    async def delete_file_chunks(self, store_id: str, file_id: str) -> None:
        def delete() -> None:
            with self.db:
                self._delete_rows(store_id, "file_id = ?", [file_id])

        await self._run(delete)

    async def set_file_attributes(self, store_id: str, file_id: str, attributes: dict[str, Any]) -> None:
        chunks, _, _ = _names(store_id)

        def update() -> None:
            with self.db:
                self.db.execute(f"UPDATE {chunks} SET attributes = ? WHERE file_id = ?", (json.dumps(attributes), file_id))

        await self._run(update)

    async def file_chunks(self, store_id: str, file_id: str) -> list[StoredChunk]:
        chunks, vectors, _ = _names(store_id)
        args: list[Any] = [file_id]
        query = (
            f"SELECT {', '.join('c.' + c for c in _COLUMNS.split(', '))}, v.embedding FROM {chunks} c"
            f" JOIN {vectors} v ON v.rowid = c.rowid WHERE c.file_id = ? AND {_where(None, args)} ORDER BY c.position"
        )
        rows = await self._run(lambda: self._rows(query, args))
        return [_chunk(row[:9], row[9]) for row in rows]

    def _by_rowid(self, store_id: str, scored: list[tuple[int, float]]) -> list[Hit]:
        chunks, _, _ = _names(store_id)
        if not scored:
            return []
        marks = ", ".join("?" * len(scored))
        rows = {r[0]: r[1:] for r in self._rows(f"SELECT rowid, {_COLUMNS} FROM {chunks} WHERE rowid IN ({marks})", [s[0] for s in scored])}
        return [Hit(_chunk(rows[rowid]), score) for rowid, score in scored if rowid in rows]

    async def vector_search(self, store_id: str, embedding: np.ndarray, k: int, where: Filter | None) -> list[Hit]:
        chunks, vectors, _ = _names(store_id)
        vector = np.asarray(embedding, dtype=np.float32).tobytes()

        def search() -> list[Hit]:
            expiring = self._rows(f"SELECT EXISTS (SELECT 1 FROM {chunks} WHERE expires_at IS NOT NULL)")[0][0]
            args: list[Any] = [vector, k]
            query = f"SELECT rowid, distance FROM {vectors} WHERE embedding MATCH ? AND k = ?"
            if where is not None or expiring:
                # vec0 narrows its exact KNN to these rowids.
                query += f" AND rowid IN (SELECT rowid FROM {chunks} WHERE {_where(where, args)})"
            return self._by_rowid(store_id, [(rowid, 1.0 - distance) for rowid, distance in self._rows(query, args)])

        return await self._run(search)

    async def keyword_search(self, store_id: str, query: str, k: int, where: Filter | None) -> list[Hit]:
        """The k best chunks with every word of the query when k have them all, else the k best
        with any: BM25 ranks every match, and an OR of common words matches most of the store."""
        chunks, _, words = _names(store_id)
        phrases = _fts_phrases(query)
        if not phrases:
            return []
        args: list[Any] = []
        statement = (
            f"SELECT {words}.rowid, bm25({words}) FROM {words} JOIN {chunks} c ON c.rowid = {words}.rowid"
            f" WHERE {words} MATCH ? AND {_where(where, args)} ORDER BY bm25({words}) LIMIT ?"
        )

        def ranked(match: str) -> list[tuple[int, float]]:
            # BM25 here is negative, lower is better; map it to [0, 1) like pgvector's rank / (rank + 1).
            return [(rowid, -rank / (1.0 - rank)) for rowid, rank in self._rows(statement, [match, *args, k])]

        def search() -> list[Hit]:
            scored = ranked(" AND ".join(phrases))
            if len(scored) < k and len(phrases) > 1:
                scored = ranked(" OR ".join(phrases))
            return self._by_rowid(store_id, scored)

        return await self._run(search)

    async def close(self) -> None:
        await self._run(self.db.close)
        self._executor.shutdown(wait=True)


def _open(path: Path, busy_timeout_ms: int) -> Any:
    import sqlite_vec

    path.parent.mkdir(parents=True, exist_ok=True)
    connection = apsw.Connection(str(path))
    connection.enable_load_extension(True)
    connection.load_extension(sqlite_vec.loadable_path())
    connection.enable_load_extension(False)
    connection.set_busy_timeout(busy_timeout_ms)
    connection.execute("PRAGMA journal_mode = WAL")
    return connection


async def create(config: Config, context: ProviderContext) -> SqliteVecProvider:
    path = Path(config.path) if config.path else context.data_dir / "sqlite_vec.db"
    # One thread owns the connection: SQLite work is serialised, the event loop never blocks on it.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-vec")
    connection = await asyncio.get_running_loop().run_in_executor(executor, _open, path, config.busy_timeout_ms)
    return SqliteVecProvider(connection, executor)
