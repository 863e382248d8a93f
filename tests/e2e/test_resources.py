"""The shared resource registry as models and shields use it: who owns what, where it came
from, aliases, and name collisions across aliases."""

from __future__ import annotations

import httpx
import psycopg

from tests.conftest import CHAT_MODEL
from tests.support.auth import create_key
from tests.e2e.test_bad_input import error_of


def rows(stack, kind: str, ids: list[str]) -> dict[str, tuple[str, str]]:
    """id → (owner, source) of the stored resources; models live in inference's schema."""
    schema = {"models": "inference", "shields": "safety"}[kind]
    with psycopg.connect(stack.config.postgres.url) as conn:
        found = conn.execute(
            f"SELECT id, owner, source FROM {schema}.resources WHERE kind = %s AND id = ANY(%s)", (kind, ids)
        ).fetchall()
    return {row[0]: (row[1], row[2]) for row in found}


def test_a_registered_resource_records_its_owner_and_seeded_ones_their_source(stack, auth_gateway):
    headers = {"authorization": f"Bearer {create_key(stack, 'team-a', roles=['admin'])}"}
    created = httpx.post(
        f"{auth_gateway.url}/v1/shields", json={"shield_id": "owned-pii", "provider_id": "pii"}, headers=headers, timeout=30
    )
    assert created.status_code == 200, created.text
    try:
        assert rows(stack, "shields", ["owned-pii", "pii"]) == {"owned-pii": ("team-a", "api"), "pii": ("anonymous", "config")}
    finally:
        httpx.delete(f"{auth_gateway.url}/v1/shields/owned-pii", headers=headers, timeout=30)
    assert rows(stack, "models", [CHAT_MODEL]) == {CHAT_MODEL: ("anonymous", "config")}


def test_aliases_resolve_and_a_taken_alias_is_409(stack):
    by_alias = httpx.get(f"{stack.gateway_url}/v1/models/llama-cpp/{CHAT_MODEL}", timeout=30)
    assert by_alias.status_code == 200 and by_alias.json()["id"] == CHAT_MODEL
    taken = httpx.post(
        f"{stack.gateway_url}/v1/models",
        json={"model_id": "fresh-name", "provider_id": "llama-cpp", "provider_model_id": "smollm2-135m-instruct-q4_1", "aliases": [CHAT_MODEL]},
        timeout=60,
    )
    assert taken.status_code == 409
    error = error_of(taken)
    assert error["param"] == "model_id" and CHAT_MODEL in error["message"]
    missing = httpx.get(f"{stack.gateway_url}/v1/models/fresh-name", timeout=30)
    assert missing.status_code == 404 and error_of(missing)["code"] == "model_not_found"
