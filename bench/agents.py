"""What the agent loop adds on top of inference, measured in one run.

Starts inference, vector_io, agents and the gateway, then, interleaved, for the same prompt and the same
greedy 16 tokens:
  (a) loop overhead: a Response over gRPC to the agents service vs the same streamed chat
      completion over gRPC to the inference service (the loop streams from inference), p50
      of the difference (target <= 5 ms);
  (b) first token: the first `response.output_text.delta` of a streamed Response through the
      gateway vs the first content chunk of the chat completion sent to inference directly
      (target: added p50 <= 10 ms);
  (c) 32 concurrent Responses with a function tool through the gateway: throughput, errors.
Usage: python bench/agents.py [--rounds 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import openai

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stackmesh.agents.v1 import agents_service_pb2 as agents_pb  # noqa: E402
from stackmesh.agents.v1 import agents_service_pb2_grpc as agents_grpc  # noqa: E402
from stackmesh.inference.v1 import inference_service_pb2 as inference_pb  # noqa: E402
from stackmesh.inference.v1 import inference_service_pb2_grpc as inference_grpc  # noqa: E402
from stackmesh_common.protojson import from_json  # noqa: E402
from stackmesh_launcher.stack import LocalStack  # noqa: E402
from bench.support import elapsed_ms, local_distribution  # noqa: E402

MODEL = "SmolLM2-135M-Instruct"
PROMPT = "Say hello to the world in one short sentence."
TOKENS = 16
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]}}


def first_delta_ms(stack: LocalStack, http: httpx.Client) -> float:
    started = time.perf_counter()
    body = {"model": MODEL, "input": PROMPT, "max_output_tokens": TOKENS, "temperature": 0, "stream": True}
    elapsed = None
    with http.stream("POST", f"{stack.gateway_url}/v1/responses", json=body) as response:
        for line in response.iter_lines():  # read to the end, so the connection is reused
            if elapsed is None and '"response.output_text.delta"' in line:
                elapsed = (time.perf_counter() - started) * 1000
    if elapsed is None:
        raise RuntimeError("the stream had no output_text.delta")
    return elapsed


def first_chunk_ms(stub: inference_grpc.InferenceServiceStub, request: inference_pb.CreateChatCompletionRequest) -> float:
    started = time.perf_counter()
    stream = stub.StreamChatCompletion(request)
    elapsed = None
    for chunk in stream:
        if elapsed is None and chunk.choices and chunk.choices[0].delta.content:
            elapsed = (time.perf_counter() - started) * 1000
    assert elapsed is not None
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # vector_io too: inference keeps batch results in Files and will not start without it.
        distribution = local_distribution(Path(tmp), "inference", "vector_io", "agents")
        with LocalStack(distribution, state_dir=Path(tmp) / "state", free_ports=True, out=sys.stderr) as stack:
            inference = inference_grpc.InferenceServiceStub(grpc.insecure_channel(stack.service_address("inference")))
            responses = agents_grpc.ResponsesServiceStub(grpc.insecure_channel(stack.service_address("agents")))
            chat = from_json(
                {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": TOKENS, "temperature": 0, "store": False,
                 "stream_options": {"include_usage": True}},
                inference_pb.CreateChatCompletionRequest,
            )  # fmt: skip
            response = from_json({"model": MODEL, "input": PROMPT, "max_output_tokens": TOKENS, "temperature": 0, "store": True}, agents_pb.CreateResponseRequest)
            http = httpx.Client(timeout=120)
            for _ in range(3):  # warm-up: model caches, connections
                responses.CreateResponse(response)
                list(inference.StreamChatCompletion(chat))
            loop_ms, chat_ms, delta_ms, token_ms = [], [], [], []
            for _ in range(args.rounds):
                chat_ms.append(elapsed_ms(lambda: list(inference.StreamChatCompletion(chat))))
                loop_ms.append(elapsed_ms(lambda: responses.CreateResponse(response)))
                token_ms.append(first_chunk_ms(inference, chat))
                delta_ms.append(first_delta_ms(stack, http))

            client = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="unused", max_retries=0, timeout=300)

            def with_tool(_: int) -> bool:
                try:
                    result = client.responses.create(model=MODEL, input="Weather in Paris?", tools=[WEATHER], tool_choice="required", max_output_tokens=64, temperature=0)
                    return result.status == "completed" and result.output[0].type == "function_call"
                except openai.OpenAIError:
                    return False

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=32) as pool:
                outcomes = list(pool.map(with_tool, range(32)))
            concurrent_s = time.perf_counter() - started

    p50 = statistics.median
    print(f"\n{args.rounds} interleaved rounds, {TOKENS} greedy tokens, p50 in ms")
    print(f"  chat completion, gRPC to inference (streamed)     {p50(chat_ms):8.1f}")
    print(f"  response, gRPC to agents (loop + storage)         {p50(loop_ms):8.1f}")
    print(f"  loop overhead per turn                            {p50(loop_ms) - p50(chat_ms):+8.1f}   target <= 5")
    print(f"  first token, gRPC to inference                    {p50(token_ms):8.1f}")
    print(f"  first output_text.delta, REST via the gateway     {p50(delta_ms):8.1f}")
    print(f"  added to the first token                          {p50(delta_ms) - p50(token_ms):+8.1f}   target <= 10")
    print(f"32 concurrent responses with a function tool: {sum(outcomes)} ok, {outcomes.count(False)} errors,"
          f" {concurrent_s:.1f} s, {32 / concurrent_s:.2f} responses/s")


if __name__ == "__main__":
    main()
