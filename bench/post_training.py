"""What the post_training service costs on top of its trainer, measured in one run.

Starts inference, vector_io, eval, post_training and the gateway, registers one dataset, then:
  (a) a LoRA job through the service vs the same trainer (`train_sft`, same rows, spec,
      threads) run as a plain script in this process: steps/s and tokens/s, median over the
      steps after the first (target >= 0.95x);
  (b) time from submitting the job to its first step, and the plain run's to its first step;
  (c) checkpoint save and resume: a plain run of 2 x CHECKPOINT steps saving every CHECKPOINT,
      then the same run again, which resumes from the last checkpoint: time to its first step.
Usage: python bench/post_training.py [--steps 20] [--batch 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stackmesh_common.packaged_models import packaged_gguf  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from stackmesh_post_training.training import Hooks, LoraSpec, StepMetrics, TrainingSpec, train_sft  # noqa: E402
from bench.support import local_distribution  # noqa: E402

MODEL = "SmolLM2-135M-Instruct"
THREADS = 2  # services.post_training.settings.torch_threads' default


def rows(count: int) -> list[list[dict]]:
    return [
        [{"role": "user", "content": f"What is fact number {n} about the island of Quorin?"},
         {"role": "assistant", "content": f"Fact {n}: the island of Quorin has {n * 7 % 23 + 2} lighthouses and a violet flag."}]
        for n in range(count)
    ]  # fmt: skip


def spec(steps: int, batch: int, save_every: int | None = None) -> TrainingSpec:
    return TrainingSpec(
        lora=LoraSpec(rank=8, alpha=16, dropout=0.05, target_modules=["q_proj", "v_proj"]),
        max_steps_per_epoch=steps, batch_size=batch, learning_rate=1e-3, checkpoint_every_steps=save_every,
    )  # fmt: skip


def plain(conversations: list[list[dict]], training: TrainingSpec, output: Path, cache: Path) -> tuple[list[StepMetrics], float]:
    """Steps of a plain run and seconds from its start to its first step."""
    steps: list[StepMetrics] = []
    began = time.perf_counter()
    first: list[float] = []

    def on_step(metrics: StepMetrics) -> None:
        if not first:
            first.append(time.perf_counter() - began)
        steps.append(metrics)

    train_sft(packaged_gguf("smollm2-135m-instruct-q4_1"), training, conversations, output, Hooks(on_step=on_step), cache)
    return steps, first[0]


def rates(steps: list[dict] | list[StepMetrics]) -> tuple[float, float]:
    """Median tokens/s over the steps after the first, and steps/s from the same."""
    tokens = [s["tokens_per_second"] if isinstance(s, dict) else s.tokens_per_s for s in steps[1:]]
    per_step = [s["metrics"].get("tokens", 0) if isinstance(s, dict) else s.tokens for s in steps[1:]]
    median = statistics.median(tokens)
    return median, median / statistics.median(per_step) if any(per_step) else float("nan")


def main() -> None:
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    conversations = rows(64)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stack = LocalStack(local_distribution(work, "inference", "vector_io", "eval", "post_training"), state_dir=work / "state")
        stack.start()
        try:
            with httpx.Client(base_url=stack.gateway_url, timeout=120) as api:
                dataset = api.post("/v1beta/datasets", json={"purpose": "post-training/messages", "source": {"type": "rows", "rows": [{"messages": m} for m in conversations]}})
                dataset.raise_for_status()
                body = {
                    "job_uuid": f"bench-{uuid.uuid4().hex[:8]}", "model": MODEL,
                    "algorithm_config": {"type": "LoRA", "lora_attn_modules": ["q_proj", "v_proj"], "apply_lora_to_mlp": False,
                                         "apply_lora_to_output": False, "rank": 8, "alpha": 16},
                    "training_config": {"n_epochs": 1, "max_steps_per_epoch": args.steps, "save_every_n_steps": 10_000,
                        "data_config": {"dataset_id": dataset.json()["identifier"], "batch_size": args.batch, "shuffle": True, "data_format": "dialog"},
                        "optimizer_config": {"optimizer_type": "adamw", "lr": 1e-3, "weight_decay": 0, "num_warmup_steps": 0}},
                    "hyperparam_search_config": {}, "logger_config": {},
                }  # fmt: skip
                began = time.perf_counter()
                api.post("/v1alpha/post-training/supervised-fine-tune", json=body).raise_for_status()
                first_step = None
                while (status := api.get(f"/v1alpha/post-training/jobs/{body['job_uuid']}/status").json())["status"] not in ("completed", "failed", "cancelled"):
                    if first_step is None and status["steps"]:
                        first_step = time.perf_counter() - began
                    time.sleep(0.1)
                assert status["status"] == "completed", status["job"]
            service_tokens, service_steps = rates(status["steps"])
            # The plain run after the service's, with the stack idle: the same cores, the same cache.
            steps, plain_first = plain(conversations, spec(args.steps, args.batch), work / "plain", work / "state/data/post_training/cache")
            plain_tokens, plain_steps = rates(steps)
            print(f"(a) LoRA r=8, batch {args.batch}, {args.steps} steps, {THREADS} threads:")
            print(f"    service {service_tokens:.0f} tokens/s ({service_steps:.2f} steps/s), plain {plain_tokens:.0f} tokens/s ({plain_steps:.2f} steps/s), ratio {service_tokens / plain_tokens:.3f}")
            print(f"(b) submit -> first step: service {first_step:.1f} s; plain start -> first step {plain_first:.1f} s")
            every = max(2, args.steps // 4)
            began = time.perf_counter()
            plain(conversations, spec(2 * every, args.batch, every), work / "resume", work / "state/data/post_training/cache")
            with_saves = time.perf_counter() - began
            _, resumed_first = plain(conversations, spec(2 * every + 2, args.batch, every), work / "resume", work / "state/data/post_training/cache")
            saves = sorted(p.name for p in (work / "resume").iterdir() if p.name.startswith("checkpoint-"))
            print(f"(c) a run of {2 * every} steps saving every {every}: {with_saves:.1f} s, checkpoints {saves}; resumed: first step after {resumed_first:.1f} s")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
