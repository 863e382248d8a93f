"""A Postgres role per service: the launcher's bootstrap, the upgrade of an old state dir, and
the scripts the compose postgres container runs at init."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from stackmesh_common.config import ConfigError, PostgresConfig
from stackmesh_common.db import migrate, open_pool
from stackmesh_common.service import COMMON_MIGRATIONS
from stackmesh_launcher.components import SERVICE_ROLES_SQL, _embedded_postgres_bin
from stackmesh_launcher.stack import LocalStack
from tests.launcher.helpers import REPO, write_distribution

PASSWORDS_SCRIPT = REPO / "deploy" / "docker" / "postgres-role-passwords.sh"
COMPOSE_SERVICES = ["inference", "safety", "vector_io", "agents", "eval", "post_training", "auth"]


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of Postgres and NATS only: its bootstrap creates no service role."""
    directory = tmp_path_factory.mktemp("roles")
    with LocalStack(write_distribution(directory), directory / "state", gateway=False) as stack:
        yield stack


def admin(stack: LocalStack) -> psycopg.Connection:
    return psycopg.connect(stack.config.postgres.url, autocommit=True)


def test_an_old_state_dir_is_upgraded_in_place(tmp_path: Path, fake_services: Path) -> None:
    """Schemas and tables the admin created before the roles go to the service's role, which
    then migrates and serves: `stackmesh up` on an old state dir still works."""
    state_dir = tmp_path / "state"
    for folder in ("before", "after"):
        (tmp_path / folder).mkdir()
    # Before the roles, the admin created each service's schema and tables.
    with LocalStack(write_distribution(tmp_path / "before"), state_dir, gateway=False) as old:
        with admin(old) as conn:
            conn.execute("CREATE SCHEMA echo")
            conn.execute(
                "CREATE TABLE echo.schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            conn.execute("CREATE TABLE echo.kept (id bigserial, n int GENERATED ALWAYS AS IDENTITY)")
            conn.execute("CREATE SEQUENCE echo.counter")
            conn.execute("INSERT INTO echo.kept DEFAULT VALUES")

    distribution = write_distribution(tmp_path / "after", services="{echo: {port: 0}}")
    with LocalStack(distribution, state_dir, gateway=False) as stack:
        with admin(stack) as conn:
            owners = conn.execute(
                "SELECT c.relname, c.relowner::regrole::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'echo' AND c.relkind IN ('r', 'S')"
            ).fetchall()
            schema_owner = conn.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'echo'").fetchone()
        assert schema_owner == ("stackmesh_echo",)
        # Migrated by the service after the upgrade, as its role: jobs and resources.
        assert {name for name, _ in owners} >= {"schema_migrations", "kept", "kept_id_seq", "kept_n_seq", "counter", "jobs"}
        assert {owner for _, owner in owners} == {"stackmesh_echo"}
        with psycopg.connect(stack.config.postgres_for("echo").url) as conn:
            assert conn.execute("SELECT count(*) FROM echo.kept").fetchone() == (1,)


def test_a_role_without_its_schema_is_told_who_must_create_it(postgres: LocalStack) -> None:
    """A service role may not create a schema: migrate says which script an admin runs."""
    with admin(postgres) as conn:
        conn.execute("DROP ROLE IF EXISTS stackmesh_orphan")
        conn.execute("CREATE ROLE stackmesh_orphan LOGIN")
        conn.execute("GRANT CONNECT ON DATABASE stackmesh TO stackmesh_orphan")
    url = postgres.config.postgres.url.replace("postgres@", "stackmesh_orphan@", 1)

    async def start() -> None:
        pool = await open_pool(PostgresConfig(url=url), "orphan")
        try:
            await migrate(pool, "orphan", COMMON_MIGRATIONS, prefix="common/")
        finally:
            await pool.close()

    with pytest.raises(ConfigError, match=r"schema 'orphan' does not exist .* run .*service_roles\.sql as an admin"):
        asyncio.run(start())


def test_compose_init_scripts_create_each_role_with_its_password(postgres: LocalStack) -> None:
    """What /docker-entrypoint-initdb.d runs, through psql: service_roles.sql (the distributions'
    four services by default), then postgres-role-passwords.sh with the passwords from the env."""
    socket_dir = psycopg.conninfo.conninfo_to_dict(postgres.config.postgres.url)["host"]
    passwords = {f"STACKMESH_{name.upper()}_DB_PASSWORD": f"pw of {name} with ' and :" for name in COMPOSE_SERVICES}
    env = {
        **os.environ,
        **passwords,
        "PATH": f"{_embedded_postgres_bin()}{os.pathsep}{os.environ['PATH']}",
        "PGHOST": str(socket_dir),
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "stackmesh",
    }
    for command in (["psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "stackmesh", "-f", str(SERVICE_ROLES_SQL)], ["sh", str(PASSWORDS_SCRIPT)]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr

    with admin(postgres) as conn:
        rows = conn.execute(
            "SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolpassword LIKE 'SCRAM-SHA-256$%%', n.nspname IS NOT NULL"
            " FROM pg_authid r LEFT JOIN pg_namespace n ON n.nspowner = r.oid WHERE r.rolname LIKE 'stackmesh\\_%%'"
            " AND r.rolname <> 'stackmesh_orphan' ORDER BY r.rolname"
        ).fetchall()
    assert rows == [(f"stackmesh_{name}", True, False, True, True) for name in sorted(COMPOSE_SERVICES)]
