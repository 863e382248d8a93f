"""The same API over plain gRPC stubs, as a polyglot backend would call it."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from stackmesh.inference.v1 import inference_service_pb2 as pb
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from tests.conftest import CHAT_MODEL, EMBEDDING_MODEL


def chat_request(**kwargs) -> pb.CreateChatCompletionRequest:
    request = pb.CreateChatCompletionRequest(model=CHAT_MODEL, max_tokens=8, temperature=0, **kwargs)
    request.messages.add(role="user").content.string_value = "Say hello."
    return request


def test_list_models(inference_channel):
    response = pb_grpc.ModelsServiceStub(inference_channel).ListModels(pb.ListModelsRequest(), timeout=10)
    assert {CHAT_MODEL, EMBEDDING_MODEL} <= {m.id for m in response.data}


def test_chat_completion(inference_channel):
    response = pb_grpc.InferenceServiceStub(inference_channel).CreateChatCompletion(chat_request(), timeout=60)
    assert response.choices[0].message.content
    assert response.usage.completion_tokens > 0


def test_typed_chat_stream(inference_channel):
    chunks = list(pb_grpc.InferenceServiceStub(inference_channel).StreamChatCompletion(chat_request(), timeout=60))
    assert all(isinstance(c, pb.ChatCompletionChunk) for c in chunks)
    assert "".join(c.choices[0].delta.content for c in chunks if c.choices).strip()
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_completion(inference_channel):
    request = pb.CreateCompletionRequest(model=CHAT_MODEL, max_tokens=4)
    request.prompt.string_value = "Hello"
    response = pb_grpc.InferenceServiceStub(inference_channel).CreateCompletion(request, timeout=60)
    assert response.choices[0].text


def test_embeddings(inference_channel):
    request = pb.CreateEmbeddingsRequest(model=EMBEDDING_MODEL)
    request.input.list_value.values.add().string_value = "hello"
    response = pb_grpc.InferenceServiceStub(inference_channel).CreateEmbeddings(request, timeout=60)
    assert len(response.data[0].embedding.list_value.values) == 384


def test_unknown_model_is_not_found_with_error_info(inference_channel):
    request = chat_request()
    request.model = "no-such-model"
    with pytest.raises(grpc.RpcError) as caught:
        pb_grpc.InferenceServiceStub(inference_channel).CreateChatCompletion(request, timeout=10)
    error = caught.value
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "no-such-model" in error.details()
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    info = error_details_pb2.ErrorInfo()
    status_pb2.Status.FromString(details).details[0].Unpack(info)
    assert info.reason == "model_not_found" and info.metadata["param"] == "model"


def test_invalid_argument_status(inference_channel):
    request = pb.CreateChatCompletionRequest(model=CHAT_MODEL)
    with pytest.raises(grpc.RpcError) as caught:
        pb_grpc.InferenceServiceStub(inference_channel).CreateChatCompletion(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "messages" in caught.value.details()


def test_health_checking_and_reflection(inference_channel):
    health = health_pb2_grpc.HealthStub(inference_channel)
    for service in ("", "stackmesh.inference.v1.InferenceService"):
        assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(inference_channel)
    replies = list(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5))
    names = {s.name for s in replies[0].list_services_response.service}
    assert {"stackmesh.inference.v1.InferenceService", "stackmesh.inference.v1.ModelsService", "grpc.health.v1.Health"} <= names


def test_the_gateway_port_serves_the_contracts_over_grpc_and_nothing_internal(stack):
    """gRPC on the public port is deliberate (SECURITY.md): polyglot callers reach exactly the
    stackmesh.* services there, behind the same edge as REST; health checking and reflection
    stay on each service's own port."""
    address = stack.gateway_url.removeprefix("http://")
    with grpc.insecure_channel(address) as channel:
        models = pb_grpc.ModelsServiceStub(channel).ListModels(pb.ListModelsRequest(), timeout=10)
        assert CHAT_MODEL in {m.id for m in models.data}
        with pytest.raises(grpc.RpcError) as health:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert health.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(grpc.RpcError) as reflection:
            list(reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            ))  # fmt: skip
        assert reflection.value.code() == grpc.StatusCode.UNIMPLEMENTED
