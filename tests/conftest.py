"""Shared fixtures: the real local stack (Postgres, NATS, services, Envoy) on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import grpc
import httpx
import openai
import pytest
import yaml

from stackmesh_launcher.stack import LocalStack
from tests.support.auth import AuthGateway, start_auth_gateway
from tests.support.jwt_issuer import JwtIssuer
from tests.support.processes import stop_process

REPO = Path(__file__).resolve().parents[1]
LOCAL_DISTRIBUTION = REPO / "deploy" / "distributions" / "local.yaml"
CONTRACT_PROVIDERS = REPO / "tests" / "distributions" / "contract.yaml"
OPENAI_SERVER = REPO / "tests" / "support" / "openai_server.py"
CHAT_MODEL = "SmolLM2-135M-Instruct"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"


def start_local_stack(state_dir: Path, distribution: Path = LOCAL_DISTRIBUTION) -> LocalStack:
    stack = LocalStack(distribution, state_dir=state_dir, free_ports=True)
    stack.start()
    return stack


@dataclass
class OpenAIServer:
    """llama.cpp's OpenAI-compatible server in a child process."""

    process: subprocess.Popen
    url: str

    def stop(self) -> None:
        stop_process(self.process)
        self.process.stdin.close()
        self.process.stdout.close()


def start_openai_server(*args: str) -> OpenAIServer:
    process = subprocess.Popen(
        [sys.executable, str(OPENAI_SERVER), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    url = process.stdout.readline().strip()
    if not url:
        process.wait(10)
        raise RuntimeError(f"{OPENAI_SERVER.name} exited with code {process.returncode} before listening")
    server = OpenAIServer(process, url)
    try:
        httpx.get(f"{url.removesuffix('/v1')}/health", timeout=30).raise_for_status()
    except Exception:
        server.stop()
        raise
    return server


def contract_distribution(directory: Path, jwt_issuer: JwtIssuer | None = None) -> Path:
    """local.yaml plus the test-only providers and models of tests/distributions/contract.yaml
    (and, given an issuer, its tokens trusted by the auth service)."""
    data = yaml.safe_load(LOCAL_DISTRIBUTION.read_text())
    extra = yaml.safe_load(CONTRACT_PROVIDERS.read_text())
    inference = data["services"]["inference"]
    inference["providers"] += extra["providers"]
    inference["resources"]["models"] += extra["models"]
    if jwt_issuer is not None:
        data["auth"]["jwt"] = jwt_issuer.config(jwt_issuer.write_jwks(directory / "jwks.json"))
    path = directory / "contract.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIServer]:
    server = start_openai_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def jwt_issuer() -> JwtIssuer:
    return JwtIssuer()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, openai_server: OpenAIServer, jwt_issuer: JwtIssuer) -> Iterator[LocalStack]:
    # The contract distribution's remote providers read the stand-in's address from here.
    os.environ["STACKMESH_TEST_OPENAI_URL"] = openai_server.url
    distribution = contract_distribution(tmp_path_factory.mktemp("distribution"), jwt_issuer)
    stack = start_local_stack(tmp_path_factory.mktemp("stack"), distribution)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def auth_gateway(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthGateway]:
    """The session stack behind a second gateway with auth on (API keys and the issuer's JWTs)."""
    gateway = start_auth_gateway(stack, tmp_path_factory.mktemp("auth-gateway"))
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def client(stack: LocalStack) -> openai.OpenAI:
    # max_retries=0: tests must see the first error, not a retried success.
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def inference_channel(stack: LocalStack) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(stack.service_address("inference")) as channel:
        yield channel
