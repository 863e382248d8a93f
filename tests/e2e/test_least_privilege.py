"""Least privilege on the real local stack: each service's Postgres role reaches its own schema
only, and NATS refuses connections without the stack's credentials."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from urllib.parse import urlsplit

import nats
import psycopg
import pytest
from nats.errors import Error as NatsError

from stackmesh_launcher import state

SERVICES = ["inference", "safety", "vector_io", "agents"]
# The services whose spec sets uses_nats.
NATS_CLIENTS = {"inference", "vector_io", "agents"}


def role_url(stack, service: str) -> str:
    return stack.config.postgres_for(service).url


def test_each_service_connects_as_its_own_role_without_admin_rights(stack):
    """The URL a service uses names stackmesh_<service>, a plain login role."""
    for service in SERVICES:
        assert urlsplit(role_url(stack, service)).username == f"stackmesh_{service}"
        with psycopg.connect(role_url(stack, service)) as conn:
            row = conn.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, current_setting('is_superuser')"
                " FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
        assert row == (False, False, False, False, False, "off"), service


def test_a_role_cannot_read_another_services_tables(stack):
    """permission denied for the other schema, for every pair of services."""
    for service in SERVICES:
        with psycopg.connect(role_url(stack, service), autocommit=True) as conn:
            for other in SERVICES:
                if other == service:
                    conn.execute(f"SELECT count(*) FROM {other}.schema_migrations")
                    continue
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"permission denied for schema {other}"):
                    conn.execute(f"SELECT count(*) FROM {other}.schema_migrations")


def test_a_role_creates_nothing_outside_its_schema_but_uses_pgvector(stack):
    """No CREATE in public, no new schema, no database; pgvector's type and operators work."""
    with psycopg.connect(role_url(stack, "vector_io"), autocommit=True) as conn:
        for statement in ("CREATE TABLE public.intruder (id int)", "CREATE SCHEMA intruder", "CREATE DATABASE intruder"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        assert conn.execute("SELECT '[1,0]'::vector <=> '[0,1]'::vector").fetchone() == (1.0,)


def test_tables_a_service_creates_at_run_time_are_its_own(client, stack):
    """pgvector's table per vector store lands in vector_io's schema, owned by its role."""
    store = client.vector_stores.create(name="least privilege", extra_body={"provider_id": "pgvector"})
    with psycopg.connect(stack.config.postgres.url) as conn:
        owners = dict(
            conn.execute(
                "SELECT schemaname, array_agg(DISTINCT tableowner::text) FROM pg_tables"
                " WHERE schemaname = ANY(%s) GROUP BY schemaname",
                (SERVICES,),
            ).fetchall()
        )
        chunks = conn.execute(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'vector_io' AND tablename = %s", (f"chunks_{store.id}",)
        ).fetchone()
    assert owners == {service: [f"stackmesh_{service}"] for service in SERVICES}
    assert chunks == ("stackmesh_vector_io",)


async def _connect_without(url: str, **credentials: str) -> str:
    try:
        connection = await nats.connect(url, allow_reconnect=False, connect_timeout=5, **credentials)
    except NatsError as exc:
        return str(exc)
    await connection.close()
    return "connected"


def test_nats_refuses_connections_without_the_stacks_credentials(stack):
    """No credentials, or a wrong password: 'Authorization Violation'."""
    nats_config = stack.config.nats
    assert nats_config.user and len(nats_config.password) >= 32
    assert "Authorization Violation" in asyncio.run(_connect_without(nats_config.url))
    assert "Authorization Violation" in asyncio.run(_connect_without(nats_config.url, user=nats_config.user, password="wrong"))
    assert asyncio.run(_connect_without(nats_config.url, user=nats_config.user, password=nats_config.password)) == "connected"


def test_services_that_queue_jobs_are_connected_to_nats_as_the_stack_user(stack):
    """NATS's monitoring lists each service's connection with the user it logged in as."""
    record = state.read(stack.state_dir)
    assert record is not None
    healthz = next(c.probe.target for c in record.components if c.name == "nats")
    connz = healthz.split("/healthz")[0] + "/connz?auth=true"
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(connz, timeout=5) as response:
        connections = json.load(response)["connections"]
    users = {c.get("name"): c.get("authorized_user") for c in connections}
    assert {name: users.get(name) for name in NATS_CLIENTS} == {name: stack.config.nats.user for name in NATS_CLIENTS}


def test_secrets_in_the_state_dir_are_private(stack):
    """stack.yaml (services' credentials) and nats.conf (the server's) are the owner's only."""
    for name in ("stack.yaml", "nats.conf"):
        assert (stack.state_dir / name).stat().st_mode & 0o077 == 0, name
