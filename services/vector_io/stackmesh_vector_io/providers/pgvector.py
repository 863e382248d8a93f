"""remote::pgvector: chunks in PostgreSQL, one table per store, HNSW for vectors, tsvector for words.

Each store gets a table with an exactly-sized `vector(n)` column, so its HNSW index serves
only that store and no search scans another store's rows. Keyword search ORs the query's
lexemes against a generated tsvector with a GIN index and ranks with ts_rank_cd.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from stackmesh_common.config import PostgresConfig
from stackmesh_common.db import open_pool
from stackmesh_common.errors import InvalidArgument
from stackmesh_vector_io.filters import Compound, Filter
from stackmesh_vector_io.db_errors import connection
from stackmesh_vector_io.providers.base import Hit, ProviderContext, StoredChunk

# pgvector indexes `vector` columns of up to 2,000 dimensions.
MAX_DIMENSION = 2000
_STORE_ID = re.compile(r"^[A-Za-z0-9_]{1,50}$")
_COLUMNS = ("chunk_id", "file_id", "position", "text", "content", "metadata", "chunk_metadata", "attributes", "expires_at")
_COPY_TYPES = ["text", "text", "int4", "text", "jsonb", "jsonb", "jsonb", "jsonb", "int4", "vector"]
_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
# A lexeme in more than this share of a store's chunks is left out of OR queries.
COMMON_LEXEME_SHARE = 0.1
# How long a store's lexeme statistics are reused.
STATS_TTL_S = 60.0


class Config(BaseModel):
    # A libpq URL; empty means the service's own database (postgres.url).
    url: str = ""
    pool_max_size: int = Field(default=8, ge=1)
    # HNSW build parameters (pgvector's defaults).
    hnsw_m: int = Field(default=16, ge=2, le=100)
    hnsw_ef_construction: int = Field(default=64, ge=4, le=1000)
    # Candidates HNSW keeps while searching: recall against latency.
    ef_search: int = Field(default=100, ge=1, le=1000)
    # Text search configuration (stemming, stop words) of keyword search.
    text_search_config: str = "english"
    # An insert of at least this many chunks into an empty store loads the rows first and builds
    # the indexes after: maintaining HNSW row by row costs ~2.4 ms per row here (FIELD_NOTES).
    bulk_load_rows: int = Field(default=5000, ge=1)
    # Memory for building an index after a bulk load.
    maintenance_work_mem: str = "512MB"


def _table(store_id: str) -> sql.Identifier:
    if not _STORE_ID.match(store_id):
        raise InvalidArgument(f"invalid vector store id {store_id!r}", param="vector_store_id")
    return sql.Identifier(f"chunks_{store_id}")


def _index(store_id: str, kind: str) -> sql.Identifier:
    return sql.Identifier(f"chunks_{store_id}_{kind}")


def _compile(node: Filter, args: list[Any]) -> sql.Composable:
    """SQL over the jsonb `attributes` column that holds where `node` holds (filters.py semantics)."""
    if isinstance(node, Compound):
        joiner = sql.SQL(" AND " if node.op == "and" else " OR ")
        return sql.SQL("({})").format(joiner.join(_compile(f, args) for f in node.filters))
    key = node.key
    if node.op in ("eq", "ne"):
        args.extend([key, Jsonb(node.value)])
        test = "(attributes -> %s) = %s::jsonb"
        return sql.SQL(f"coalesce({test}, false)" if node.op == "eq" else f"NOT coalesce({test}, false)")
    if node.op in ("in", "nin"):
        # jsonb containment compares values with their types: [1, "a"] @> [1] but not ["1"].
        args.extend([Jsonb(list(node.value)), key])  # type: ignore[arg-type]
        test = "%s::jsonb @> jsonb_build_array(attributes -> %s)"
        return sql.SQL(f"coalesce({test}, false)" if node.op == "in" else f"NOT coalesce({test}, false)")
    op = _OPS[node.op]
    if isinstance(node.value, str):
        args.extend([key, key, node.value])
        return sql.SQL(f"(jsonb_typeof(attributes -> %s) = 'string' AND (attributes ->> %s) COLLATE \"C\" {op} %s)")
    args.extend([key, key, node.value])
    return sql.SQL(f"(jsonb_typeof(attributes -> %s) = 'number' AND (attributes ->> %s)::float8 {op} %s)")


def _where(where: Filter | None, args: list[Any]) -> sql.Composable:
    args.append(int(time.time()))
    live = sql.SQL("(expires_at IS NULL OR expires_at > %s)")
    return live if where is None else sql.SQL("{} AND {}").format(live, _compile(where, args))


def _chunk(row: tuple[Any, ...], embedding: Any = None) -> StoredChunk:
    chunk_id, file_id, position, text, content, metadata, chunk_metadata, attributes, expires_at = row[:9]
    return StoredChunk(
        chunk_id=chunk_id,
        file_id=file_id,
        position=position,
        text=text,
        embedding=None if embedding is None else embedding.to_numpy(),
        content=content,
        metadata=metadata,
        chunk_metadata=chunk_metadata,
        attributes=attributes,
        expires_at=expires_at,
    )


def _tsquery(lexemes: list[str], operator: str) -> str:
    """A tsquery of lexemes as they are (no second stemming), quoted for its syntax."""
    quoted = ("'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'" for lexeme in lexemes)
    return f" {operator} ".join(quoted)


class PgVectorProvider:
    def __init__(self, config: Config, pool: AsyncConnectionPool) -> None:
        self.config = config
        self.pool = pool
        # Per store: when its lexeme statistics were read, and them.
        self._shares: dict[str, tuple[float, dict[str, float]]] = {}

    async def create_store(self, store_id: str, dimension: int) -> None:
        if not 1 <= dimension <= MAX_DIMENSION:
            raise InvalidArgument(
                f"pgvector indexes embeddings of 1 to {MAX_DIMENSION} dimensions, got {dimension}", param="embedding_dimension"
            )
        table = _table(store_id)
        async with connection(self.pool) as conn:
            await conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {table} ("
                    " chunk_id text PRIMARY KEY,"
                    " file_id text NOT NULL DEFAULT '',"
                    " position integer NOT NULL DEFAULT 0,"
                    " text text NOT NULL,"
                    " content jsonb,"
                    " metadata jsonb NOT NULL DEFAULT '{{}}',"
                    " chunk_metadata jsonb NOT NULL DEFAULT '{{}}',"
                    " attributes jsonb NOT NULL DEFAULT '{{}}',"
                    " expires_at integer,"
                    " embedding vector({dimension}) NOT NULL,"
                    " tsv tsvector GENERATED ALWAYS AS (to_tsvector({config}, text)) STORED)"
                ).format(table=table, dimension=sql.Literal(dimension), config=sql.Literal(self.config.text_search_config))
            )
            await conn.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (file_id, position)").format(_index(store_id, "file"), table)
            )
            await self._create_search_indexes(conn, store_id)

    async def _create_search_indexes(self, conn: AsyncConnection, store_id: str) -> None:
        table = _table(store_id)
        await conn.execute(
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding vector_cosine_ops) WITH (m = {}, ef_construction = {})"
            ).format(
                _index(store_id, "hnsw"), table, sql.Literal(self.config.hnsw_m), sql.Literal(self.config.hnsw_ef_construction)
            )
        )
        await conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin (tsv)").format(_index(store_id, "tsv"), table))

    async def delete_store(self, store_id: str) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(store_id)))

    @staticmethod
    def _row(chunk: StoredChunk) -> tuple[Any, ...]:
        return (
            chunk.chunk_id, chunk.file_id, chunk.position, chunk.text, Jsonb(chunk.content), Jsonb(chunk.metadata),
            Jsonb(chunk.chunk_metadata), Jsonb(chunk.attributes), chunk.expires_at,
            np.asarray(chunk.embedding, dtype=np.float32),
        )  # fmt: skip

    async def _copy(self, conn: AsyncConnection, store_id: str, chunks: list[StoredChunk]) -> None:
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in (*_COLUMNS, "embedding"))
        async with conn.cursor() as cur:
            async with cur.copy(
                sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT BINARY)").format(_table(store_id), columns)
            ) as copy:
                copy.set_types(_COPY_TYPES)
                for chunk in chunks:
                    await copy.write_row(self._row(chunk))

    async def replace_file_chunks(self, store_id: str, file_id: str, chunks: list[StoredChunk]) -> None:
        table = _table(store_id)
        async with connection(self.pool) as conn:
            # Two replacements of one file at once would each miss the other's uncommitted rows.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{store_id}/{file_id}",))
            await conn.execute(sql.SQL("DELETE FROM {} WHERE file_id = %s").format(table), (file_id,))
            await self._copy(conn, store_id, chunks)

    async def insert_chunks(self, store_id: str, chunks: list[StoredChunk]) -> None:
        table = _table(store_id)
        async with connection(self.pool) as conn:
            if len(chunks) >= self.config.bulk_load_rows:
                # Readers wait for this load instead of seeing a store without indexes.
                await conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
                empty = await (await conn.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(table))).fetchone()
                if empty and empty[0]:
                    await self._bulk_load(conn, store_id, chunks)
                    return
            # Raw inserts replace chunks with the same id; staging keeps COPY's speed for that.
            await conn.execute(
                sql.SQL("CREATE TEMP TABLE staged (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(table)
            )
            await conn.execute("ALTER TABLE staged DROP COLUMN tsv")
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in (*_COLUMNS, "embedding"))
            async with conn.cursor() as cur:
                async with cur.copy(sql.SQL("COPY staged ({}) FROM STDIN WITH (FORMAT BINARY)").format(columns)) as copy:
                    copy.set_types(_COPY_TYPES)
                    for chunk in chunks:
                        await copy.write_row(self._row(chunk))
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {table} ({columns}) SELECT DISTINCT ON (chunk_id) {columns} FROM staged"
                    " ON CONFLICT (chunk_id) DO UPDATE SET {updates}"
                ).format(
                    table=table,
                    columns=columns,
                    updates=sql.SQL(", ").join(
                        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in (*_COLUMNS[1:], "embedding")
                    ),
                )
            )

    async def _bulk_load(self, conn: AsyncConnection, store_id: str, chunks: list[StoredChunk]) -> None:
        await conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(_index(store_id, "hnsw")))
        await conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(_index(store_id, "tsv")))
        await self._copy(conn, store_id, chunks)
        await conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (self.config.maintenance_work_mem,))
        await self._create_search_indexes(conn, store_id)
        # Keyword search reads lexeme statistics; autovacuum would gather them only later.
        await conn.execute(sql.SQL("ANALYZE {}").format(_table(store_id)))

    async def delete_file_chunks(self, store_id: str, file_id: str) -> None:
        async with connection(self.pool) as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{store_id}/{file_id}",))
            await conn.execute(sql.SQL("DELETE FROM {} WHERE file_id = %s").format(_table(store_id)), (file_id,))

    async def set_file_attributes(self, store_id: str, file_id: str, attributes: dict[str, Any]) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                sql.SQL("UPDATE {} SET attributes = %s WHERE file_id = %s").format(_table(store_id)), (Jsonb(attributes), file_id)
            )

    async def file_chunks(self, store_id: str, file_id: str) -> list[StoredChunk]:
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in (*_COLUMNS, "embedding"))
        args: list[Any] = [file_id]
        query = sql.SQL("SELECT {} FROM {} WHERE file_id = %s AND {} ORDER BY position").format(
            columns, _table(store_id), _where(None, args)
        )
        async with connection(self.pool) as conn:
            rows = await (await conn.execute(query, args)).fetchall()
        return [_chunk(row, row[9]) for row in rows]

    async def vector_search(self, store_id: str, embedding: np.ndarray, k: int, where: Filter | None) -> list[Hit]:
        vector = np.asarray(embedding, dtype=np.float32)
        args: list[Any] = [vector]
        query = sql.SQL(
            "SELECT {columns}, embedding <=> %s AS distance FROM {table} WHERE {where} ORDER BY distance LIMIT %s"
        ).format(
            columns=sql.SQL(", ").join(sql.Identifier(c) for c in _COLUMNS), table=_table(store_id), where=_where(where, args)
        )
        args.append(k)
        async with connection(self.pool) as conn:
            rows = await (await conn.execute(query, args)).fetchall()
        # Iterative scans (relaxed order) may return neighbours slightly out of order.
        hits = [Hit(_chunk(row), 1.0 - float(row[9])) for row in rows]
        return sorted(hits, key=lambda hit: -hit.score)

    async def _lexeme_shares(self, conn: AsyncConnection, store_id: str) -> dict[str, float]:
        """Share of the store's chunks holding each of its most common lexemes (ANALYZE's statistics)."""
        cached = self._shares.get(store_id)
        if cached is not None and time.monotonic() - cached[0] < STATS_TTL_S:
            return cached[1]
        row = await (
            await conn.execute(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats"
                " WHERE schemaname = current_schema() AND tablename = %s AND attname = 'tsv'",
                (f"chunks_{store_id}",),
            )
        ).fetchone()
        shares = dict(zip(row[0], row[1])) if row is not None and row[0] else {}
        self._shares[store_id] = (time.monotonic(), shares)
        return shares

    async def _ranked(self, conn: AsyncConnection, store_id: str, query: str, k: int, where: Filter | None) -> list[Hit]:
        args: list[Any] = [query, query]
        statement = sql.SQL(
            "SELECT {columns}, ts_rank_cd(tsv, %s::tsquery, 32) AS score FROM {table}"
            " WHERE tsv @@ %s::tsquery AND {where} ORDER BY score DESC, chunk_id LIMIT %s"
        ).format(
            columns=sql.SQL(", ").join(sql.Identifier(c) for c in _COLUMNS), table=_table(store_id), where=_where(where, args)
        )
        args.append(k)
        rows = await (await conn.execute(statement, args)).fetchall()
        return [Hit(_chunk(row), float(row[9])) for row in rows]

    async def keyword_search(self, store_id: str, query: str, k: int, where: Filter | None) -> list[Hit]:
        """The k best chunks with every lexeme of the query when k have them all, else the k best
        with any of its informative lexemes. Ranking costs one ts_rank_cd per matching chunk, so
        an OR with a near-stop-word would rank most of the store (~460 ms at 100k chunks) while
        BM25-style weighting gives such a word next to no say."""
        async with connection(self.pool) as conn:
            row = await (
                await conn.execute("SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s))", (self.config.text_search_config, query))
            ).fetchone()
            lexemes = list(row[0]) if row is not None else []
            if not lexemes:
                return []
            hits = await self._ranked(conn, store_id, _tsquery(lexemes, "&"), k, where)
            if len(hits) >= k or len(lexemes) == 1:
                return hits
            shares = await self._lexeme_shares(conn, store_id)
            informative = [lexeme for lexeme in lexemes if shares.get(lexeme, 0.0) <= COMMON_LEXEME_SHARE]
            if not informative:
                return hits
            return await self._ranked(conn, store_id, _tsquery(informative, "|"), k, where)

    async def close(self) -> None:
        await self.pool.close()


async def create(config: Config, context: ProviderContext) -> PgVectorProvider:
    from pgvector.psycopg import register_vector_async

    async def prepare(conn: AsyncConnection) -> None:
        await register_vector_async(conn)
        # Filtered searches keep scanning the graph until they have k rows, and k may exceed
        # ef_search; both need iterative scans (pgvector >= 0.8).
        await conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(config.ef_search),))
        await conn.execute("SET hnsw.iterative_scan = relaxed_order")

    postgres = PostgresConfig(url=config.url or context.postgres.url, pool_min_size=1, pool_max_size=config.pool_max_size)
    pool = await open_pool(postgres, context.schema, on_connect=prepare)
    return PgVectorProvider(config, pool)
