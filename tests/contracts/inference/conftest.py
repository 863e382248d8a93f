"""The provider contract suite: every inference provider kind serves SmolLM2 in the session
stack (tests/distributions/contract.yaml), and each test runs once per provider."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import CHAT_MODEL


@dataclass(frozen=True)
class Served:
    """A chat model and the provider serving it."""

    provider_id: str
    model: str


SERVED = [
    Served("llama-cpp", CHAT_MODEL),
    Served("vllm", "smollm2-vllm"),
    Served("openai", "smollm2-openai"),
    Served("transformers", "smollm2-transformers"),
]


@pytest.fixture(params=SERVED, ids=lambda served: served.provider_id)
def served(request: pytest.FixtureRequest) -> Served:
    return request.param
