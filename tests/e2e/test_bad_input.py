"""Client mistakes get the right HTTP status and OpenAI's error envelope, never a 500."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import CHAT_MODEL, EMBEDDING_MODEL

USER = [{"role": "user", "content": "hi"}]


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["code"] is None or isinstance(body["error"]["code"], str)
    return body["error"]


def post(stack, path: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{stack.gateway_url}{path}", timeout=60, **kwargs)


def test_unknown_model_is_404_in_the_openai_envelope(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=USER)
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"
    assert "no-such-model" in caught.value.message and CHAT_MODEL in caught.value.message


def test_malformed_json_is_400(stack):
    response = post(stack, "/v1/chat/completions", content=b'{"model": "x", "messages": [', headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error" and error["message"]


def test_missing_messages_is_400(stack):
    response = post(stack, "/v1/chat/completions", json={"model": CHAT_MODEL})
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "messages" and "messages" in error["message"]


def test_empty_messages_is_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=[])
    assert caught.value.param == "messages"


@pytest.mark.parametrize(
    "field, value",
    [("temperature", "hot"), ("max_tokens", "many"), ("messages", 5), ("stream", "yes"), ("n", 1.5)],
)
def test_wrong_field_types_are_400(stack, field, value):
    response = post(stack, "/v1/chat/completions", json={"model": CHAT_MODEL, "messages": USER, field: value})
    assert response.status_code == 400, response.text
    assert field in error_of(response)["message"]


@pytest.mark.parametrize(
    "extra, param",
    [({"temperature": 3}, "temperature"), ({"max_tokens": 0}, "max_tokens"), ({"n": 0}, "n"),
     ({"stop": ["a", "b", "c", "d", "e"]}, "stop"), ({"top_logprobs": 3}, "top_logprobs")],
)
def test_out_of_range_values_name_the_field(stack, extra, param):
    response = post(stack, "/v1/chat/completions", json={"model": CHAT_MODEL, "messages": USER, **extra})
    assert response.status_code == 400
    assert error_of(response)["param"] == param


def test_bad_message_role_is_400(stack):
    response = post(stack, "/v1/chat/completions", json={"model": CHAT_MODEL, "messages": [{"role": "wizard", "content": "x"}]})
    assert response.status_code == 400
    assert error_of(response)["param"] == "messages[0].role"


def test_embedding_model_used_for_chat_is_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=EMBEDDING_MODEL, messages=USER)
    assert caught.value.code == "wrong_model_type"


def test_chat_model_used_for_embeddings_is_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=CHAT_MODEL, input="x")
    assert caught.value.param == "model"


def test_empty_embedding_input_is_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=EMBEDDING_MODEL, input=[])
    assert caught.value.param == "input"


def test_oversize_body_is_413(stack):
    big = "x" * (9 * 1024 * 1024)
    response = post(stack, "/v1/embeddings", json={"model": EMBEDDING_MODEL, "input": big})
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


def test_unknown_route_is_404(stack):
    response = httpx.get(f"{stack.gateway_url}/v1/no-such-thing", timeout=30)
    assert response.status_code == 404
    assert "/v1/no-such-thing" in error_of(response)["message"]


def test_register_model_with_unknown_provider_is_400(stack):
    response = post(stack, "/v1/models", json={"model_id": "m", "provider_id": "nope", "provider_model_id": "x"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "provider_id" and "llama-cpp" in error["message"]


def test_register_model_the_provider_cannot_load_is_400(stack):
    response = post(stack, "/v1/models", json={"model_id": "m", "provider_id": "llama-cpp", "provider_model_id": "/nonexistent/model.gguf"})
    assert response.status_code == 400
    assert "/nonexistent/model.gguf" in error_of(response)["message"]


def test_register_existing_model_is_409(stack):
    response = post(stack, "/v1/models", json={"model_id": CHAT_MODEL, "provider_id": "llama-cpp", "provider_model_id": "smollm2-135m-instruct-q4_1"})
    assert response.status_code == 409
    assert error_of(response)["code"] == "already_exists"


def test_unknown_stored_completion_is_404(stack):
    response = httpx.get(f"{stack.gateway_url}/v1/chat/completions/chatcmpl-nope", timeout=30)
    assert response.status_code == 404
    assert error_of(response)["param"] == "completion_id"
