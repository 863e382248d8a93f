"""Llama Stack prompts through the gateway: versions, the default one, optimistic updates, the
v0.3.0 POST routes, and bad input answered in OpenAI's error envelope."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.test_bad_input import error_of

PROMPTS = "/v1/prompts"
# Well-formed, never created.
UNKNOWN = f"{PROMPTS}/pmpt_{'0' * 48}"
TEMPLATE = "Answer in {{ language }} about {{topic}}."


@pytest.fixture(scope="module")
def api(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


def create(api: httpx.Client, prompt: str = TEMPLATE, variables: list[str] | None = None) -> dict:
    response = api.post(PROMPTS, json={"prompt": prompt, "variables": ["language", "topic"] if variables is None else variables})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_prompt_is_created_as_its_default_version_1(api):
    prompt = create(api)
    assert re.fullmatch(r"pmpt_[0-9a-f]{48}", prompt["prompt_id"])
    assert prompt == {
        "prompt_id": prompt["prompt_id"],
        "prompt": TEMPLATE,
        "version": 1,
        "variables": ["language", "topic"],
        "is_default": True,
    }
    assert api.get(f"{PROMPTS}/{prompt['prompt_id']}").json() == prompt
    assert api.get(f"{PROMPTS}/{prompt['prompt_id']}", params={"version": 1}).json() == prompt


def test_an_update_adds_a_version_and_only_from_the_latest(api):
    prompt_id = create(api)["prompt_id"]
    second = api.put(f"{PROMPTS}/{prompt_id}", json={"prompt": "Say {{ word }}.", "version": 1, "variables": ["word"]}).json()
    assert (second["version"], second["prompt"], second["variables"], second["is_default"]) == (2, "Say {{ word }}.", ["word"], True)
    assert api.get(f"{PROMPTS}/{prompt_id}").json() == second
    first = api.get(f"{PROMPTS}/{prompt_id}", params={"version": 1}).json()
    assert (first["prompt"], first["is_default"]) == (TEMPLATE, False)

    stale = api.put(f"{PROMPTS}/{prompt_id}", json={"prompt": "Hi.", "version": 1})
    assert stale.status_code == 400
    error = error_of(stale)
    assert error["param"] == "version" and "latest" in error["message"] and "2" in error["message"]
    assert [p["version"] for p in api.get(f"{PROMPTS}/{prompt_id}/versions").json()["data"]] == [1, 2]


def test_of_concurrent_updates_from_one_version_exactly_one_wins(api):
    prompt_id = create(api)["prompt_id"]
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda n: api.put(f"{PROMPTS}/{prompt_id}", json={"prompt": f"Take {n}.", "version": 1}).status_code, range(8)))
    assert sorted(codes) == [200] + [400] * 7
    assert [p["version"] for p in api.get(f"{PROMPTS}/{prompt_id}/versions").json()["data"]] == [1, 2]


def test_an_update_may_leave_the_default_where_it_is(api):
    prompt_id = create(api)["prompt_id"]
    draft = api.put(f"{PROMPTS}/{prompt_id}", json={"prompt": "Draft.", "version": 1, "set_as_default": False}).json()
    assert (draft["version"], draft["is_default"], draft["variables"]) == (2, False, [])
    assert api.get(f"{PROMPTS}/{prompt_id}").json()["version"] == 1


def test_the_default_version_can_be_set_and_versions_listed(api):
    prompt_id = create(api)["prompt_id"]
    api.put(f"{PROMPTS}/{prompt_id}", json={"prompt": "Two.", "version": 1}).raise_for_status()
    api.put(f"{PROMPTS}/{prompt_id}", json={"prompt": "Three.", "version": 2}).raise_for_status()

    chosen = api.put(f"{PROMPTS}/{prompt_id}/set-default-version", json={"version": 1})
    assert chosen.status_code == 200, chosen.text
    assert (chosen.json()["version"], chosen.json()["prompt"], chosen.json()["is_default"]) == (1, TEMPLATE, True)
    assert api.get(f"{PROMPTS}/{prompt_id}").json()["version"] == 1

    versions = api.get(f"{PROMPTS}/{prompt_id}/versions").json()["data"]
    assert [(p["version"], p["prompt"], p["is_default"]) for p in versions] == [(1, TEMPLATE, True), (2, "Two.", False), (3, "Three.", False)]
    # Updates still follow the latest version, not the default one.
    assert api.put(f"{PROMPTS}/{prompt_id}", json={"prompt": "Four.", "version": 3}).json()["version"] == 4


def test_the_list_holds_each_prompt_once_at_its_default_version(api):
    older = create(api)["prompt_id"]
    newer = create(api, "Plain.", [])["prompt_id"]
    api.put(f"{PROMPTS}/{older}", json={"prompt": "Updated {{ x }}.", "version": 1, "variables": ["x"]}).raise_for_status()
    listed = [p for p in api.get(PROMPTS).json()["data"] if p["prompt_id"] in (older, newer)]
    assert [(p["prompt_id"], p["version"], p["prompt"], p["is_default"]) for p in listed] == [
        (newer, 1, "Plain.", True),
        (older, 2, "Updated {{ x }}.", True),
    ]


def test_a_deleted_prompt_is_gone_with_its_versions(api):
    prompt_id = create(api)["prompt_id"]
    api.put(f"{PROMPTS}/{prompt_id}", json={"prompt": "Two.", "version": 1}).raise_for_status()
    assert api.delete(f"{PROMPTS}/{prompt_id}").status_code == 200
    for response in (api.get(f"{PROMPTS}/{prompt_id}"), api.get(f"{PROMPTS}/{prompt_id}/versions"), api.delete(f"{PROMPTS}/{prompt_id}")):
        assert response.status_code == 404
        error = error_of(response)
        assert (error["param"], error["code"]) == ("prompt_id", "prompt_not_found") and prompt_id in error["message"]
    assert prompt_id not in [p["prompt_id"] for p in api.get(PROMPTS).json()["data"]]


def test_the_v0_3_post_routes_update_and_set_the_default(api):
    prompt_id = create(api)["prompt_id"]
    updated = api.post(f"{PROMPTS}/{prompt_id}", json={"prompt": "Two.", "version": 1})
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    chosen = api.post(f"{PROMPTS}/{prompt_id}/set-default-version", json={"version": 1})
    assert chosen.status_code == 200, chosen.text
    assert api.get(f"{PROMPTS}/{prompt_id}").json()["version"] == 1


@pytest.mark.parametrize(
    "body, param",
    [
        ({"prompt": "Hello {{ name }}", "variables": []}, "variables"),
        ({"prompt": "Hello {{name}} and {{ other }}", "variables": ["name"]}, "variables"),
        ({"variables": ["name"]}, "prompt"),
    ],
)
def test_a_prompt_must_declare_its_variables(api, body, param):
    response = api.post(PROMPTS, json=body)
    assert response.status_code == 400
    assert error_of(response)["param"] == param


def test_a_declared_variable_may_go_unused(api):
    assert create(api, "No placeholders.", ["spare"])["variables"] == ["spare"]


def test_an_update_must_declare_its_variables_too(api):
    prompt_id = create(api)["prompt_id"]
    response = api.put(f"{PROMPTS}/{prompt_id}", json={"prompt": "{{ missing }}", "version": 1})
    assert response.status_code == 400
    assert error_of(response)["param"] == "variables"


def test_unknown_ids_and_versions_are_404_naming_the_field(api):
    prompt_id = create(api)["prompt_id"]
    for response, param in [
        (api.get(UNKNOWN), "prompt_id"),
        (api.put(UNKNOWN, json={"prompt": "x", "version": 1}), "prompt_id"),
        (api.put(UNKNOWN + "/set-default-version", json={"version": 1}), "prompt_id"),
        (api.get(f"{PROMPTS}/{prompt_id}", params={"version": 7}), "version"),
        (api.put(f"{PROMPTS}/{prompt_id}/set-default-version", json={"version": 7}), "version"),
    ]:
        assert response.status_code == 404, response.text
        assert error_of(response)["param"] == param


def test_a_missing_or_invalid_version_is_400(api):
    prompt_id = create(api)["prompt_id"]
    for response in (
        api.put(f"{PROMPTS}/{prompt_id}", json={"prompt": "x"}),
        api.put(f"{PROMPTS}/{prompt_id}/set-default-version", json={}),
        api.get(f"{PROMPTS}/{prompt_id}", params={"version": 0}),
    ):
        assert response.status_code == 400, response.text
        assert error_of(response)["param"] == "version"
