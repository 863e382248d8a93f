"""The remote adapters speak each server's dialect of the OpenAI API."""

from __future__ import annotations

import pytest

from stackmesh_common.errors import InvalidArgument
from stackmesh_inference.providers import openai as openai_provider
from stackmesh_inference.providers import vllm

SCHEMA = {"type": "object"}


def test_vllm_sends_guided_decoding_as_structured_outputs():
    provider = vllm.VllmProvider(vllm.Config(url="http://vllm:8000/v1"))
    wire = provider.wire_request({"messages": [], "top_k": 5, "min_p": 0.1, "repetition_penalty": 1.2, "guided_json": SCHEMA})
    assert wire == {"messages": [], "top_k": 5, "min_p": 0.1, "repetition_penalty": 1.2, "structured_outputs": {"json": SCHEMA}}
    assert provider.wire_request({"guided_choice": ["a", "b"]}) == {"structured_outputs": {"choice": ["a", "b"]}}
    assert provider.wire_request({"guided_regex": "[0-9]+"}) == {"structured_outputs": {"regex": "[0-9]+"}}


def test_vllm_before_0_12_gets_guided_fields():
    provider = vllm.VllmProvider(vllm.Config(url="http://vllm:8000/v1", guided_decoding="guided"))
    assert provider.wire_request({"guided_regex": "[0-9]+"}) == {"guided_regex": "[0-9]+"}


def test_openai_takes_max_completion_tokens_and_no_vllm_extras():
    provider = openai_provider.OpenAIProvider(openai_provider.Config(api_key="sk-test"))
    assert provider.wire_request({"messages": [], "max_tokens": 5}) == {"messages": [], "max_completion_tokens": 5}
    assert provider.wire_request({"prompt": "x", "max_tokens": 5}) == {"prompt": "x", "max_tokens": 5}
    with pytest.raises(InvalidArgument) as caught:
        provider.wire_request({"messages": [], "min_p": 0.1})
    assert caught.value.param == "min_p"
