"""Replicas of a service behind the gateway: a stack of its own running two inference
processes. Calls are balanced over both, a registry change through one reaches the other at
once (LISTEN/NOTIFY), and killing one under chat load fails (almost) nothing."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import pytest
import yaml

from stackmesh.inference.v1 import inference_service_pb2 as pb
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from stackmesh_launcher.stack import LocalStack
from tests.conftest import CHAT_MODEL, LOCAL_DISTRIBUTION
from tests.support.metrics import listed_by_status, sample, scrape

CHAT = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4, "temperature": 0}
# Seconds of chat load around the kill of one replica (bench/replicas.py runs it for 60 s).
LOAD_S = 12


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("replicas")
    data = yaml.safe_load(LOCAL_DISTRIBUTION.read_text())
    data["services"] = {name: data["services"][name] for name in ("inference", "vector_io")}
    path = directory / "replicas.yaml"
    path.write_text(yaml.safe_dump(data))
    stack = LocalStack(path, directory / "stack", free_ports=True, replicas={"inference": 2})
    stack.start()
    yield stack
    stack.stop()


def _models(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        return {m.id for m in pb_grpc.ModelsServiceStub(channel).ListModels(pb.ListModelsRequest(), timeout=30).data}


def _calls(metrics_url: str, method: str) -> float:
    return sample(scrape(metrics_url), "stackmesh_rpc_calls_total", method=method, code="OK")


def _status(stack: LocalStack) -> dict[str, tuple[str, str]]:
    """The inference replicas -> (address, metrics URL), from `stackmesh status`."""
    return {name: found for name, found in listed_by_status(stack).items() if name.startswith("inference")}


def test_both_replicas_serve_and_share_the_calls(replicated):
    status = _status(replicated)
    assert set(status) == {"inference", "inference-2"} and status["inference"][0] != status["inference-2"][0]
    method = "/stackmesh.inference.v1.ModelsService/ListModels"
    before = {name: _calls(url, method) for name, (_, url) in status.items()}
    with httpx.Client(base_url=replicated.gateway_url, timeout=30) as api:
        for _ in range(40):
            api.get("/v1/models").raise_for_status()
    served = {name: _calls(url, method) - before[name] for name, (_, url) in status.items()}
    assert sum(served.values()) == 40 and min(served.values()) >= 5, served


def test_a_model_registered_on_one_replica_is_listed_by_the_other_at_once(replicated):
    status = _status(replicated)
    first, second = status["inference"][0], status["inference-2"][0]
    _models(first)  # its view is fresh now: without a notification it would not re-read for 2 s
    with grpc.insecure_channel(second) as channel:
        pb_grpc.ModelsServiceStub(channel).RegisterModel(
            pb.RegisterModelRequest(model_id="replicated-alias", provider_id="llama-cpp", provider_model_id="smollm2-135m-instruct-q4_1"),
            timeout=120,
        )
    registered = time.monotonic()
    while "replicated-alias" not in _models(first):
        assert time.monotonic() - registered < 1.0, "the other replica did not hear of the new model"
        time.sleep(0.05)
    with grpc.insecure_channel(first) as channel:
        pb_grpc.ModelsServiceStub(channel).UnregisterModel(pb.UnregisterModelRequest(model_id="replicated-alias"), timeout=60)
    gone = time.monotonic()
    while "replicated-alias" in _models(second):
        assert time.monotonic() - gone < 1.0, "the other replica still lists the removed model"
        time.sleep(0.05)


def test_killing_a_replica_under_chat_load_fails_almost_nothing(replicated):
    deadline = time.monotonic() + LOAD_S
    outcomes: list[int] = []

    def load() -> None:
        with httpx.Client(base_url=replicated.gateway_url, timeout=60) as api:
            while time.monotonic() < deadline:
                outcomes.append(api.post("/v1/chat/completions", json=CHAT).status_code)

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(load) for _ in range(4)]
        time.sleep(LOAD_S / 3)
        replicated.stop_component("inference-2", signal.SIGKILL)
        for future in running:
            future.result()
    failed = sum(1 for code in outcomes if code != 200)
    assert len(outcomes) > 30 and failed <= len(outcomes) * 0.001, f"{failed} of {len(outcomes)} failed: {sorted(set(outcomes))}"
    # The supervisor brings it back, and it serves again.
    replicated.wait_ready("inference-2")
    assert CHAT_MODEL in _models(_status(replicated)["inference-2"][0])


def test_status_and_the_distribution_know_both(replicated):
    config = yaml.safe_load(Path(replicated.config_path).read_text())
    assert config["services"]["inference"]["replicas"] == 2 and len(config["services"]["inference"]["replica_ports"]) == 1
