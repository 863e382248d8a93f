"""PostgreSQL access: one async pool per service, pinned to the service's own schema."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from importlib.resources.abc import Traversable

from psycopg import AsyncConnection, errors, sql
from psycopg_pool import AsyncConnectionPool

from stackmesh_common.config import ConfigError, PostgresConfig

log = logging.getLogger("stackmesh.db")

# Creates each service's role and schema; named in errors for operators.
SERVICE_ROLES_SQL = "deploy/launcher/stackmesh_launcher/service_roles.sql"


async def open_pool(
    config: PostgresConfig, schema: str, on_connect: Callable[[AsyncConnection], Awaitable[None]] | None = None
) -> AsyncConnectionPool:
    """Opens a pool whose connections see `schema` first (and `public` for extensions).

    `on_connect` runs on every new connection (e.g. to register the pgvector type).
    """
    if not config.url:
        raise ConfigError("postgres.url is not set (STACKMESH_POSTGRES__URL)")

    async def configure(conn: AsyncConnection) -> None:
        await conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        if on_connect is not None:
            await on_connect(conn)
        await conn.commit()

    pool = AsyncConnectionPool(
        config.url,
        min_size=config.pool_min_size,
        max_size=config.pool_max_size,
        configure=configure,
        # A connection that died with a Postgres restart is replaced before use, not handed out.
        check=AsyncConnectionPool.check_connection,
        open=False,
        kwargs={"autocommit": False},
    )
    await pool.open(wait=True, timeout=30)
    return pool


def _migration_files(package: str) -> list[Traversable]:
    folder = resources.files(package)
    return sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)


async def _ensure_schema(conn: AsyncConnection, schema: str) -> None:
    # A service role owns its schema but may not create one (even with IF NOT EXISTS, which
    # checks the database privilege first): an admin creates it with the role.
    cur = await conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
    if await cur.fetchone() is not None:
        return
    try:
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    except errors.InsufficientPrivilege:
        raise ConfigError(
            f"schema {schema!r} does not exist and this role may not create it; run "
            f"{SERVICE_ROLES_SQL} as an admin for service {schema!r} first"
        ) from None


async def migrate(pool: AsyncConnectionPool, schema: str, package: str, prefix: str = "") -> list[str]:
    """Applies the `NNN_name.sql` files of `package` not yet applied to `schema`, in order,
    recorded as `prefix + file name` (the shared migrations every schema gets use "common/").

    An advisory lock serialises concurrent replicas starting at once.
    """
    applied: list[str] = []
    async with pool.connection() as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"stackmesh.migrate.{schema}",))
            await _ensure_schema(conn, schema)
            await conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                ).format(sql.Identifier(schema))
            )
            cur = await conn.execute(sql.SQL("SELECT version FROM {}.schema_migrations").format(sql.Identifier(schema)))
            done = {row[0] for row in await cur.fetchall()}
            for migration in _migration_files(package):
                version = prefix + migration.name
                if version in done:
                    continue
                await conn.execute(migration.read_text())
                await conn.execute(
                    sql.SQL("INSERT INTO {}.schema_migrations (version) VALUES (%s)").format(sql.Identifier(schema)),
                    (version,),
                )
                applied.append(version)
    if applied:
        log.info("migrations applied", extra={"fields": {"schema": schema, "versions": applied}})
    return applied
