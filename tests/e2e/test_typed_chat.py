"""Chat over the typed contract: messages, tools, tool calls, response format and stream
options built as messages by a gRPC caller, and the REST JSON for the same shapes."""

from __future__ import annotations

import json

import grpc
import httpx
import jsonschema
from google.protobuf import struct_pb2

from stackmesh.common.v1 import chat_pb2
from stackmesh.inference.v1 import inference_service_pb2 as pb
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from tests.conftest import CHAT_MODEL

CITY = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]}


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def text(value: str) -> struct_pb2.Value:
    return struct_pb2.Value(string_value=value)


def weather_tool() -> pb.ChatCompletionTool:
    function = pb.FunctionDefinition(name="get_weather", description="The current weather in a city.", parameters=struct(CITY))
    return pb.ChatCompletionTool(type="function", function=function)


def ask() -> chat_pb2.ChatMessage:
    return chat_pb2.ChatMessage(role="user", content=text("What is the weather in Paris?"))


def test_a_tool_call_and_its_result_round_trip_as_typed_messages(inference_channel):
    stub = pb_grpc.InferenceServiceStub(inference_channel)
    request = pb.CreateChatCompletionRequest(
        model=CHAT_MODEL, messages=[ask()], tools=[weather_tool()], tool_choice=text("required"),
        parallel_tool_calls=False, max_tokens=64, temperature=0,
    )
    first = stub.CreateChatCompletion(request, timeout=120)
    [call] = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls"
    assert isinstance(call, chat_pb2.ToolCall) and call.function.name == "get_weather"
    # The schema's integer (maxLength 40) reached the grammar as an integer: the call obeys it.
    jsonschema.validate(json.loads(call.function.arguments), CITY)

    answered = pb.CreateChatCompletionRequest(
        model=CHAT_MODEL,
        messages=[
            ask(),
            chat_pb2.ChatMessage(role="assistant", tool_calls=[call]),
            chat_pb2.ChatMessage(role="tool", tool_call_id=call.id, content=text("Sunny, 24 degrees Celsius.")),
        ],
        tools=[weather_tool()], tool_choice=text("none"), max_tokens=12, temperature=0,
    )
    answer = stub.CreateChatCompletion(answered, timeout=120)
    assert answer.choices[0].message.content and not answer.choices[0].message.tool_calls


def test_json_schema_response_format_and_usage_in_a_typed_stream(inference_channel):
    schema = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 20}}, "required": ["answer"]}
    request = pb.CreateChatCompletionRequest(
        model=CHAT_MODEL, messages=[ask()], max_tokens=48, temperature=0,
        response_format=pb.ResponseFormat(type="json_schema", json_schema=pb.JsonSchemaFormat(name="reply", schema=struct(schema))),
        stream_options=pb.StreamOptions(include_usage=True),
    )
    chunks = list(pb_grpc.InferenceServiceStub(inference_channel).StreamChatCompletion(request, timeout=120))
    jsonschema.validate(json.loads("".join(c.choices[0].delta.content for c in chunks if c.choices)), schema)
    assert not chunks[-1].choices and chunks[-1].usage.completion_tokens > 0


def test_a_missing_tool_call_id_names_the_typed_field(inference_channel):
    request = pb.CreateChatCompletionRequest(
        model=CHAT_MODEL, messages=[ask(), chat_pb2.ChatMessage(role="tool", content=text("Sunny."))], max_tokens=4
    )
    try:
        pb_grpc.InferenceServiceStub(inference_channel).CreateChatCompletion(request, timeout=30)
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "messages[1].tool_call_id" in error.details()
    else:
        raise AssertionError("a tool message without tool_call_id was accepted")


def test_rest_json_is_unchanged_unknown_message_fields_are_ignored(stack):
    """OpenAI clients send fields this contract does not type (here `audio` and a part's
    extra key): they pass as before rather than failing the request."""
    body = {
        "model": CHAT_MODEL, "max_tokens": 2,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}], "audio": None}],
    }
    response = httpx.post(f"{stack.gateway_url}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "chat.completion"


def test_rest_wrong_type_inside_a_message_is_a_400_naming_it(stack):
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi", "tool_calls": "none"}]}
    response = httpx.post(f"{stack.gateway_url}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and "tool_calls" in error["message"]
