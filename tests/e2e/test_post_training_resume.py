"""A training job survives its worker: the launcher's post_training worker is SIGKILLed after a
checkpoint, and the job's redelivery resumes from that checkpoint — the step count and the
loss curve continue — over gRPC, as a backend caller sees it."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf import struct_pb2

from stackmesh.eval.v1 import dataset_pb2
from stackmesh.eval.v1 import eval_service_pb2 as eval_pb
from stackmesh.eval.v1 import eval_service_pb2_grpc as eval_grpc
from stackmesh.post_training.v1 import post_training_pb2 as types_pb
from stackmesh.post_training.v1 import post_training_service_pb2 as pb
from stackmesh.post_training.v1 import post_training_service_pb2_grpc as pb_grpc
from stackmesh_launcher import state
from stackmesh_launcher.stack import LocalStack
from tests.conftest import CHAT_MODEL, LOCAL_DISTRIBUTION
from tests.e2e.test_post_training import SECRETS

STEPS = 8
SAVE_EVERY = 3
WORKER = "post_training-worker-1"


def training_distribution(directory: Path) -> Path:
    """local.yaml cut to training: SmolLM2 (llama.cpp, and transformers for the result),
    vector_io (inference's batches need it), eval for the dataset, and post_training training
    only in one worker process, a dead one's job back in 3 s."""
    data = yaml.safe_load(LOCAL_DISTRIBUTION.read_text())
    services = data["services"]
    inference = services["inference"]
    inference["providers"] = [p for p in inference["providers"] if p["provider_id"] in ("llama-cpp", "transformers")]
    inference["resources"]["models"] = [m for m in inference["resources"]["models"] if m["model_id"] == CHAT_MODEL]
    vector_io = services["vector_io"]
    vector_io["providers"] = [p for p in vector_io["providers"] if p["provider_id"] == "pgvector"]
    post_training = {"port": 0, "workers": 1, "settings": {"jobs": {"in_process": False, "ack_wait_s": 3}}}
    data["services"] = {"inference": inference, "vector_io": vector_io, "eval": {"port": 0}, "post_training": post_training}
    path = directory / "training.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def training_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(training_distribution(tmp_path_factory.mktemp("dist")), state_dir=tmp_path_factory.mktemp("training"), gateway=False)
    stack.start()
    yield stack
    stack.stop()


def log_events(stack: LocalStack, message: str) -> list[dict]:
    events = []
    for line in (stack.state_dir / "logs" / f"{WORKER}.log").read_text(errors="replace").splitlines():
        if line.startswith("{") and f'"{message}"' in line:
            events.append(json.loads(line))
    return events


def test_a_killed_trainer_resumes_from_its_last_checkpoint(training_stack):
    with grpc.insecure_channel(training_stack.service_address("eval")) as channel:
        rows = []
        for question, answer in SECRETS:
            row = struct_pb2.Struct()
            row.update({"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]})
            rows.append(row)
        dataset = eval_grpc.DatasetsServiceStub(channel).RegisterDataset(
            eval_pb.RegisterDatasetRequest(purpose="post-training/messages", source=dataset_pb2.DataSource(type="rows", rows=rows)), timeout=60
        )
    request = pb.SupervisedFineTuneRequest(
        job_uuid="resumed",
        model=CHAT_MODEL,
        algorithm_config=types_pb.AlgorithmConfig(type="LoRA", lora_attn_modules=["q_proj", "v_proj"], rank=8, alpha=16),
        training_config=types_pb.TrainingConfig(
            n_epochs=1,
            max_steps_per_epoch=STEPS,
            save_every_n_steps=SAVE_EVERY,
            data_config=types_pb.DataConfig(dataset_id=dataset.identifier, batch_size=4, shuffle=True, data_format="dialog"),
            optimizer_config=types_pb.OptimizerConfig(optimizer_type="adamw", lr=2e-3),
        ),
    )
    with grpc.insecure_channel(training_stack.service_address("post_training")) as channel:
        training = pb_grpc.PostTrainingServiceStub(channel)
        training.SupervisedFineTune(request, timeout=120)

        def status() -> types_pb.PostTrainingJobStatusResponse:
            return training.GetJobStatus(pb.GetJobStatusRequest(job_uuid="resumed"), timeout=30)

        # Kill it once a checkpoint is written and a step past it is done (that step is lost).
        deadline = time.monotonic() + 300
        while not ((now := status()).checkpoints and now.steps and now.steps[-1].step > _step(now.checkpoints[-1])):
            assert time.monotonic() < deadline and now.status != "completed", now
            time.sleep(0.2)
        checkpoint_step = _step(now.checkpoints[-1])
        os.kill(next(c.process.pid for c in state.read(training_stack.state_dir).components if c.name == WORKER), signal.SIGKILL)

        deadline = time.monotonic() + 600
        while (done := status()).status not in ("completed", "failed", "cancelled"):
            assert time.monotonic() < deadline, done
            time.sleep(0.5)
    assert done.status == "completed", done.job
    assert done.job.attempts == 2
    [resumed] = log_events(training_stack, "training resumes")
    assert resumed["attempt"] == 2 and resumed["checkpoint_step"] >= checkpoint_step
    # Every step once, numbered on from the checkpoint; the curve kept falling.
    assert [s.step for s in done.steps] == list(range(1, STEPS + 1))
    assert done.steps[-1].loss < done.steps[0].loss
    assert done.job.result["model_id"] == f"{CHAT_MODEL}-lora-resumed"


def _step(checkpoint: types_pb.Checkpoint) -> int:
    return int(checkpoint.path.rstrip("/").rpartition("-")[2])
