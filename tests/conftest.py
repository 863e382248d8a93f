"""Shared fixtures: the real local stack (Postgres, NATS, services, Envoy) on free ports."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import grpc
import openai
import pytest

from stackmesh_launcher.stack import LocalStack

REPO = Path(__file__).resolve().parents[1]
LOCAL_DISTRIBUTION = REPO / "deploy" / "distributions" / "local.yaml"
CHAT_MODEL = "SmolLM2-135M-Instruct"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"


def start_local_stack(state_dir: Path) -> LocalStack:
    stack = LocalStack(LOCAL_DISTRIBUTION, state_dir=state_dir, free_ports=True)
    stack.start()
    return stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = start_local_stack(tmp_path_factory.mktemp("stack"))
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def client(stack: LocalStack) -> openai.OpenAI:
    # max_retries=0: tests must see the first error, not a retried success.
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def inference_channel(stack: LocalStack) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(stack.service_address("inference")) as channel:
        yield channel
