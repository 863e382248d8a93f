"""Precision and recall of the prompt-guard shield on its held-out labelled set.

(a) held-out: every example of `stackmesh_safety/data/prompt_guard_heldout.jsonl` (never used
to build or tune the shield) sent as a user message to RunShield over gRPC on a real stack;
(b) leave-one-out on the shipped corpus, with the embeddings of the same inference service:
the estimate the similarity parameters were chosen on. Prints one table and the misses.
Usage: python bench/prompt_guard_eval.py [--safety HOST:PORT --inference HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import grpc
import numpy as np

REPO = Path(__file__).resolve().parents[1]

from stackmesh.safety.v1 import safety_service_pb2 as pb  # noqa: E402
from stackmesh.safety.v1 import safety_service_pb2_grpc as pb_grpc  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from stackmesh_safety.detectors import injection_rules, similarity  # noqa: E402
from stackmesh_safety.inference_client import InferenceClient  # noqa: E402
from stackmesh_safety.providers.prompt_guard import CORPUS, Config  # noqa: E402

HELDOUT = ("stackmesh_safety.data", "prompt_guard_heldout.jsonl")


@contextlib.contextmanager
def addresses(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    if args.safety and args.inference:
        yield args.safety, args.inference
        return
    with tempfile.TemporaryDirectory() as state, LocalStack(REPO / "deploy/distributions/local.yaml", Path(state), gateway=False) as stack:
        yield stack.service_address("safety"), stack.service_address("inference")


def metrics(truth: list[bool], predicted: list[bool]) -> tuple[float, float, float, int, int, int, int]:
    t, p = np.array(truth), np.array(predicted)
    tp, fp, fn, tn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum()), int((~t & ~p).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp, fp, fn, tn


async def heldout(safety: str) -> tuple[list[similarity.Example], list[bool]]:
    examples = similarity.load_examples(*HELDOUT)
    async with grpc.aio.insecure_channel(safety) as channel:
        stub = pb_grpc.SafetyServiceStub(channel)

        async def flagged(example: similarity.Example) -> bool:
            request = pb.RunShieldRequest(shield_id="prompt-guard")
            request.messages.add(role="user").content.string_value = example.text
            reply = await stub.RunShield(request, timeout=30)
            return reply.HasField("violation") and reply.violation.violation_level == "error"

        return examples, [await flagged(e) for e in examples]


async def leave_one_out(inference: str) -> tuple[list[similarity.Example], list[bool]]:
    config = Config()
    examples = similarity.load_examples(*CORPUS)
    client = InferenceClient(inference)
    try:
        vectors = await client.embed(config.embedding_model, [e.text for e in examples], timeout_s=60)
    finally:
        await client.close()
    knn = similarity.Knn(k=config.k)
    predicted = []
    for i, example in enumerate(examples):
        rest = [j for j in range(len(examples)) if j != i]
        match = similarity.score(vectors[i : i + 1], vectors[rest], [examples[j].label for j in rest], [examples[j].text for j in rest], knn)
        verdict = injection_rules.combine(match.score, match.label, injection_rules.matches(example.text))
        predicted.append(verdict.score >= config.threshold)
    return examples, predicted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--safety", help="address of a running safety service (default: start a local stack)")
    parser.add_argument("--inference", help="address of its inference service")
    args = parser.parse_args()
    with addresses(args) as (safety, inference):
        runs = {"a. held-out set, RunShield": asyncio.run(heldout(safety)), "b. corpus, leave-one-out": asyncio.run(leave_one_out(inference))}
    print(f"\nprompt-guard (threshold {Config().threshold}, k {Config().k})")
    print(f"{'set':30} {'n':>4} {'attacks':>8} {'precision':>10} {'recall':>7} {'F1':>6} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4}")
    for name, (examples, predicted) in runs.items():
        truth = [e.label != similarity.BENIGN for e in examples]
        precision, recall, f1, tp, fp, fn, tn = metrics(truth, predicted)
        print(f"{name:30} {len(examples):4} {sum(truth):8} {precision:10.3f} {recall:7.3f} {f1:6.3f} {tp:4} {fp:4} {fn:4} {tn:4}")
    examples, predicted = runs["a. held-out set, RunShield"]
    for label in ("jailbreak", "prompt_injection"):
        hits = [p for e, p in zip(examples, predicted) if e.label == label]
        print(f"  held-out recall on {label}: {sum(hits)}/{len(hits)}")
    for example, flagged in zip(examples, predicted):
        if flagged != (example.label != similarity.BENIGN):
            print(f"  {'missed' if not flagged else 'false alarm'} ({example.label}): {example.text[:110]}")


if __name__ == "__main__":
    sys.exit(main())
