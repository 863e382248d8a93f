"""gRPC servicers of the inference API: convert, validate, route to the model's provider."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, AsyncIterator

import numpy as np
from google.protobuf import json_format, struct_pb2

from stackmesh.inference.v1 import inference_service_pb2 as pb
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from stackmesh.inference.v1 import model_pb2
from stackmesh_common.errors import FailedPrecondition, InvalidArgument, Unavailable
from stackmesh_common.metadata import check_metadata
from stackmesh_common.paging import CHAT_COMPLETION_MESSAGES, page_limit, sort_order
from stackmesh_common.protojson import from_json, plain, request_to_dict
from stackmesh_common.sse import sse_stream
from stackmesh_common.telemetry import metrics
from stackmesh_inference.generation import chat_generation, complete_chat, complete_text, completion_generation, stream_chat, stream_text
from stackmesh_inference.models import ModelRegistry, RegisteredModel
from stackmesh_inference.store import CompletionStore
from stackmesh_inference.validation import check_tool_count, embedding_inputs, validate_chat, validate_completion


def model_to_proto(model: RegisteredModel) -> model_pb2.Model:
    metadata = struct_pb2.Struct()
    metadata.update(model.params)
    return model_pb2.Model(
        id=model.id,
        object="model",
        created=model.created_at,
        owned_by=model.provider_id,
        identifier=model.id,
        provider_id=model.provider_id,
        provider_resource_id=model.provider_resource_id,
        model_type=model.type,
        metadata=metadata,
        type="model",
        aliases=model.aliases,
    )


class ModelsServicer(pb_grpc.ModelsServiceServicer):
    def __init__(self, models: ModelRegistry) -> None:
        self.models = models

    async def ListModels(self, request: pb.ListModelsRequest, context: Any) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(object="list", data=[model_to_proto(m) for m in await self.models.list()])

    async def GetModel(self, request: pb.GetModelRequest, context: Any) -> model_pb2.Model:
        return model_to_proto(await self.models.resolve(request.model))

    async def RegisterModel(self, request: pb.RegisterModelRequest, context: Any) -> model_pb2.Model:
        model = await self.models.register(
            model_id=request.model_id,
            provider_model_id=request.provider_model_id,
            provider_id=request.provider_id,
            model_type=request.model_type,
            metadata=plain(request.metadata),
            aliases=list(request.aliases),
        )
        return model_to_proto(model)

    async def UnregisterModel(self, request: pb.UnregisterModelRequest, context: Any) -> pb.DeleteModelResponse:
        model = await self.models.unregister(request.model_id)
        return pb.DeleteModelResponse(id=model.id, object="model", deleted=True)


def _reject_stream_flag(body: dict[str, Any], streaming_rpc: str) -> None:
    """A unary call carrying `stream: true` means the stream request was not routed as one:
    the gateway streams only for a JSON boolean `true` (its transcoder is laxer, e.g. "yes")."""
    if body.get("stream"):
        raise InvalidArgument(
            f"`stream` must be the JSON boolean true to stream over server-sent events (gRPC callers: use {streaming_rpc})",
            param="stream",
        )


class InferenceServicer(pb_grpc.InferenceServiceServicer):
    def __init__(self, models: ModelRegistry, store: CompletionStore, draining: asyncio.Event) -> None:
        self.models = models
        self.store = store
        self.draining = draining

    async def _until_draining(self, chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        async for chunk in chunks:
            if self.draining.is_set():
                raise Unavailable("the inference service is shutting down; retry the request")
            yield chunk

    # Chat completions.

    async def _prepare_chat(self, request: pb.CreateChatCompletionRequest) -> tuple[dict[str, Any], RegisteredModel]:
        # The model and the tool count first, on the message itself: a request with thousands
        # of tools is refused before any per-tool work holds the event loop.
        if not request.model:
            raise InvalidArgument("`model` is required", param="model")
        model = await self.models.resolve(request.model, model_type="llm")
        check_tool_count(len(request.tools))
        body = request_to_dict(request)
        validate_chat(body)
        return body, model

    async def CreateChatCompletion(self, request: pb.CreateChatCompletionRequest, context: Any) -> pb.ChatCompletion:
        body, model = await self._prepare_chat(request)
        _reject_stream_flag(body, "StreamChatCompletion")
        generation = chat_generation(body, model, self.models.provider(model), stream=False)
        completion = from_json(await complete_chat(generation), pb.ChatCompletion)
        if body.get("store", True):
            self.store.save(plain(completion), body["messages"], body.get("metadata", {}))
        return completion

    async def _chat_chunks(self, request: pb.CreateChatCompletionRequest) -> AsyncIterator[pb.ChatCompletionChunk]:
        body, model = await self._prepare_chat(request)
        generation = chat_generation(body, model, self.models.provider(model), stream=True)
        async for chunk in self._until_draining(stream_chat(generation)):
            yield from_json(chunk, pb.ChatCompletionChunk)

    def StreamChatCompletion(self, request: pb.CreateChatCompletionRequest, context: Any) -> AsyncIterator[pb.ChatCompletionChunk]:
        return self._chat_chunks(request)

    def StreamChatCompletionSse(self, request: pb.CreateChatCompletionRequest, context: Any) -> AsyncIterator[Any]:
        return sse_stream(self._chat_chunks(request))

    # Stored chat completions.

    @staticmethod
    def _stored(completion: dict, messages: list, metadata: dict) -> pb.StoredChatCompletion:
        stored = from_json(completion, pb.StoredChatCompletion)
        for message in messages:
            json_format.ParseDict(message, stored.input_messages.add())
        stored.metadata.update(metadata)
        return stored

    async def ListChatCompletions(self, request: pb.ListChatCompletionsRequest, context: Any) -> pb.ListChatCompletionsResponse:
        rows, has_more = await self.store.list(
            request.after, request.limit if request.HasField("limit") else None, request.model, request.order
        )
        data = [self._stored(*row) for row in rows]
        return pb.ListChatCompletionsResponse(
            object="list",
            data=data,
            first_id=data[0].id if data else "",
            last_id=data[-1].id if data else "",
            has_more=has_more,
        )

    async def GetChatCompletion(self, request: pb.GetChatCompletionRequest, context: Any) -> pb.StoredChatCompletion:
        return self._stored(*await self.store.get(request.completion_id))

    async def UpdateChatCompletion(self, request: pb.UpdateChatCompletionRequest, context: Any) -> pb.StoredChatCompletion:
        metadata = dict(request.metadata)
        check_metadata(metadata)
        return self._stored(*await self.store.update_metadata(request.completion_id, metadata))

    async def DeleteChatCompletion(self, request: pb.DeleteChatCompletionRequest, context: Any) -> pb.DeletedChatCompletion:
        await self.store.delete(request.completion_id)
        return pb.DeletedChatCompletion(id=request.completion_id, object="chat.completion.deleted", deleted=True)

    async def ListChatCompletionMessages(
        self, request: pb.ListChatCompletionMessagesRequest, context: Any
    ) -> pb.ListChatCompletionMessagesResponse:
        _, messages, _ = await self.store.get(request.completion_id)
        limit = page_limit(request.limit if request.HasField("limit") else None, CHAT_COMPLETION_MESSAGES)
        order = sort_order(request.order, "asc")
        items = [{"id": f"{request.completion_id}-{i}", **m} for i, m in enumerate(messages)]
        if order == "desc":
            items.reverse()
        if request.after:
            ids = [item["id"] for item in items]
            if request.after not in ids:
                raise InvalidArgument(f"`after` names an unknown message: {request.after}", param="after")
            items = items[ids.index(request.after) + 1 :]
        page = items[:limit]
        response = pb.ListChatCompletionMessagesResponse(
            object="list",
            first_id=page[0]["id"] if page else "",
            last_id=page[-1]["id"] if page else "",
            has_more=len(items) > limit,
        )
        for item in page:
            json_format.ParseDict(item, response.data.add())
        return response

    # Text completions.

    async def _prepare_completion(self, request: pb.CreateCompletionRequest) -> tuple[dict[str, Any], RegisteredModel]:
        body = request_to_dict(request)
        validate_completion(body)
        return body, await self.models.resolve(body["model"], model_type="llm")

    async def CreateCompletion(self, request: pb.CreateCompletionRequest, context: Any) -> pb.Completion:
        body, model = await self._prepare_completion(request)
        _reject_stream_flag(body, "StreamCompletion")
        generation = completion_generation(body, model, self.models.provider(model), stream=False)
        return from_json(await complete_text(generation), pb.Completion)

    async def _completion_chunks(self, request: pb.CreateCompletionRequest) -> AsyncIterator[pb.Completion]:
        body, model = await self._prepare_completion(request)
        generation = completion_generation(body, model, self.models.provider(model), stream=True)
        async for chunk in self._until_draining(stream_text(generation)):
            yield from_json(chunk, pb.Completion)

    def StreamCompletion(self, request: pb.CreateCompletionRequest, context: Any) -> AsyncIterator[pb.Completion]:
        return self._completion_chunks(request)

    def StreamCompletionSse(self, request: pb.CreateCompletionRequest, context: Any) -> AsyncIterator[Any]:
        return sse_stream(self._completion_chunks(request))

    # Embeddings.

    async def CreateEmbeddings(self, request: pb.CreateEmbeddingsRequest, context: Any) -> pb.CreateEmbeddingsResponse:
        body = request_to_dict(request)
        inputs = embedding_inputs(body)
        model = await self.models.resolve(body["model"], model_type="embedding")
        dimensions = body.get("dimensions")
        full = model.params.get("embedding_dimension")
        if dimensions is not None and full and dimensions > full:
            raise InvalidArgument(f"`dimensions` must be at most {full} for model `{model.id}`", param="dimensions")
        result = await self.models.provider(model).embeddings(model.provider_resource_id, inputs, dimensions)
        metrics.EMBEDDINGS.labels(model.id).inc(len(inputs))
        metrics.TOKENS.labels(model.id, "prompt").inc(result.prompt_tokens)
        response = pb.CreateEmbeddingsResponse(
            object="list",
            model=model.id,
            usage=pb.EmbeddingsUsage(prompt_tokens=result.prompt_tokens, total_tokens=result.prompt_tokens),
        )
        as_base64 = body.get("encoding_format") == "base64"
        for index, vector in enumerate(result.vectors):
            item = response.data.add(object="embedding", index=index)
            if as_base64:
                item.embedding.string_value = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            else:
                item.embedding.list_value.extend(vector)
        return response

    async def Rerank(self, request: pb.RerankRequest, context: Any) -> pb.RerankResponse:
        model = await self.models.resolve(request.model, model_type="rerank")
        raise FailedPrecondition(f"provider `{model.provider_id}` of model `{model.id}` does not rerank", param="model")
