"""A judge model of the inference service, as the llm-as-judge scorers call it."""

from __future__ import annotations

from stackmesh.common.v1 import chat_pb2
from stackmesh.inference.v1 import inference_service_pb2 as inference_pb
from stackmesh_common.peers import InferenceClient


class InferenceJudge:
    def __init__(self, inference: InferenceClient, max_tokens: int, timeout_s: float) -> None:
        self.inference = inference
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s

    async def __call__(self, model: str, prompt: str, output_regex: str | None) -> str:
        message = chat_pb2.ChatMessage(role="user")
        message.content.string_value = prompt
        # Greedy: a judge must give the same score to the same answer.
        request = inference_pb.CreateChatCompletionRequest(
            model=model, messages=[message], temperature=0.0, max_tokens=self.max_tokens, store=False
        )
        if output_regex:
            request.guided_regex = output_regex
        completion = await self.inference.chat_completion(request, timeout_s=self.timeout_s)
        return completion.choices[0].message.content if completion.choices else ""
