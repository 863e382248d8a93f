"""The inference service as peers call it: chat, completions, embeddings, model look-up."""

from __future__ import annotations

from typing import AsyncIterator

import grpc

from stackmesh.inference.v1 import inference_service_pb2 as pb
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from stackmesh.inference.v1 import model_pb2
from stackmesh_common.errors import NotFound, StackmeshError
from stackmesh_common.peers.errors import peer_error

PEER = "inference"


class InferenceClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._inference = pb_grpc.InferenceServiceStub(channel)
        self._models = pb_grpc.ModelsServiceStub(channel)

    async def chat_completion(
        self,
        request: pb.CreateChatCompletionRequest,
        *,
        timeout_s: float,
        refused_as: type[StackmeshError] | None = None,
        param: str | None = None,
    ) -> pb.ChatCompletion:
        try:
            return await self._inference.CreateChatCompletion(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"chat completion on `{request.model}`", refused_as=refused_as, param=param) from None

    async def stream_chat_completion(
        self, request: pb.CreateChatCompletionRequest, *, timeout_s: float
    ) -> AsyncIterator[pb.ChatCompletionChunk]:
        """The typed chunks of a streamed chat completion; a refusal before the first chunk
        (unknown model, bad tools) keeps the inference service's code and param."""
        call = self._inference.StreamChatCompletion(request, timeout=timeout_s)
        try:
            async for chunk in call:
                yield chunk
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"chat completion on `{request.model}`") from None
        finally:
            call.cancel()

    async def completion(self, request: pb.CreateCompletionRequest, *, timeout_s: float) -> pb.Completion:
        try:
            return await self._inference.CreateCompletion(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"completion on `{request.model}`") from None

    async def embeddings(
        self,
        request: pb.CreateEmbeddingsRequest,
        *,
        timeout_s: float,
        refused_as: type[StackmeshError] | None = None,
        param: str | None = None,
    ) -> pb.CreateEmbeddingsResponse:
        try:
            return await self._inference.CreateEmbeddings(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"embeddings of `{request.model}`", refused_as=refused_as, param=param) from None

    async def require_model(self, model: str, *, timeout_s: float, param: str, noun: str = "model") -> model_pb2.Model:
        """The registered model; a 404 naming it (as `noun`, e.g. "judge model") when the
        inference service does not know it."""
        found = await self.get_model(model, timeout_s=timeout_s) if model else None
        if found is None:
            raise NotFound(f"The {noun} `{model}` does not exist in the inference service", param=param, reason="model_not_found")
        return found

    async def get_model(
        self, model: str, *, timeout_s: float, refused_as: type[StackmeshError] | None = None, param: str | None = None
    ) -> model_pb2.Model | None:
        """The registered model, or None when the inference service does not know it."""
        try:
            return await self._models.GetModel(pb.GetModelRequest(model=model), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise peer_error(exc, PEER, f"looking up model `{model}`", refused_as=refused_as, param=param) from None

    async def register_model(self, request: pb.RegisterModelRequest, *, timeout_s: float) -> model_pb2.Model:
        try:
            return await self._models.RegisterModel(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise peer_error(exc, PEER, f"registering model `{request.model_id}`") from None
