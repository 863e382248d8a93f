"""Real resources for the fuzzers to aim at: with random ids every case ends at "not found",
so a share of the cases goes to routes whose path names one of these."""

from __future__ import annotations

from typing import Any, Callable

import httpx

# The path parameter (as /v1/openapi.json names it) -> how to make one, given the chat model.
# None from a maker (a distribution without that API) leaves the parameter random.
Maker = Callable[[httpx.Client, str, dict[str, str]], "str | None"]


def _id(response: httpx.Response, key: str = "id") -> str | None:
    return response.json().get(key) if response.status_code == 200 else None


MAKERS: dict[str, Maker] = {
    "file_id": lambda http, model, ids: _id(http.post("/v1/files", data={"purpose": "assistants"}, files={"file": ("fuzz.txt", b"hello fuzz")})),
    "vector_store_id": lambda http, model, ids: _id(http.post("/v1/vector_stores", json={"name": "fuzz"})),
    "conversation_id": lambda http, model, ids: _id(http.post("/v1/conversations", json={"metadata": {"fuzz": "yes"}})),
    "prompt_id": lambda http, model, ids: _id(http.post("/v1/prompts", json={"prompt": "Hi {{ name }}", "variables": ["name"]}), "prompt_id"),
    "completion_id": lambda http, model, ids: _id(
        http.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1, "store": True})
    ),
    "agent_id": lambda http, model, ids: _id(http.post("/v1/agents", json={"agent_config": {"model": model, "instructions": "Be brief."}}), "agent_id"),
    "session_id": lambda http, model, ids: _id(http.post(f"/v1/agents/{ids['agent_id']}/session", json={"session_name": "fuzz"}), "session_id")
    if "agent_id" in ids
    else None,
}


def seed_resources(gateway_url: str) -> dict[str, str]:
    """Creates one of each resource in MAKERS; returns path parameter -> id for those made."""
    ids: dict[str, str] = {}
    with httpx.Client(base_url=gateway_url, timeout=120) as http:
        models: list[dict[str, Any]] = http.get("/v1/models").json().get("data", [])
        model = next((m["id"] for m in models if m.get("model_type") == "llm"), "")
        for name, make in MAKERS.items():
            made = make(http, model, ids)
            if made:
                ids[name] = made
    return ids
