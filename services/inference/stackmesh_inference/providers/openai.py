"""remote::openai: OpenAI's API, or any server that speaks exactly it."""

from __future__ import annotations

from typing import Any

from stackmesh_common.errors import InvalidArgument
from stackmesh_inference.providers.openai_compat import RemoteConfig, RemoteProvider

# vLLM's extra fields, which OpenAI rejects or ignores.
_UNSUPPORTED = ("top_k", "min_p", "repetition_penalty", "guided_json", "guided_regex", "guided_choice")


class Config(RemoteConfig):
    url: str = "https://api.openai.com/v1"


class OpenAIProvider(RemoteProvider):
    provider_type = "remote::openai"

    def wire_request(self, request: dict[str, Any]) -> dict[str, Any]:
        for name in _UNSUPPORTED:
            if name in request:
                raise InvalidArgument(f"`{name}` is a vLLM extension that {self.provider_type} models do not take", param=name)
        # OpenAI's reasoning models take only the newer name; the others take both.
        if "max_tokens" in request and "messages" in request:
            request = {k: v for k, v in request.items() if k != "max_tokens"} | {"max_completion_tokens": request["max_tokens"]}
        return request


async def create(config: Config, context: Any) -> OpenAIProvider:
    return OpenAIProvider(config)
