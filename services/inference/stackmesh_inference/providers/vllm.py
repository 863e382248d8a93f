"""remote::vllm: a vLLM server's OpenAI-compatible API, with vLLM's extra sampling and
guided-decoding fields."""

from __future__ import annotations

from typing import Any, Literal

from stackmesh_inference.providers.openai_compat import RemoteConfig, RemoteProvider

_GUIDED = {"guided_json": "json", "guided_regex": "regex", "guided_choice": "choice"}


class Config(RemoteConfig):
    url: str = "http://localhost:8000/v1"
    # vLLM 0.12 replaced the guided_* request fields with one `structured_outputs` object;
    # "guided" speaks to older servers.
    guided_decoding: Literal["structured_outputs", "guided"] = "structured_outputs"


class VllmProvider(RemoteProvider):
    provider_type = "remote::vllm"
    config: Config

    def wire_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """top_k, min_p and repetition_penalty are vLLM request fields as they are."""
        if self.config.guided_decoding == "guided":
            return request
        wire = {k: v for k, v in request.items() if k not in _GUIDED}
        guided = {_GUIDED[k]: v for k, v in request.items() if k in _GUIDED}
        if guided:
            wire["structured_outputs"] = guided
        return wire


async def create(config: Config, context: Any) -> VllmProvider:
    return VllmProvider(config)
