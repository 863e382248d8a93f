"""gRPC servicer of Llama Stack's Prompts API: versioned prompt templates."""

from __future__ import annotations

from typing import Any, Iterable

from google.protobuf import empty_pb2

from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh.agents.v1 import agents_service_pb2_grpc as pb_grpc
from stackmesh.agents.v1 import prompt_pb2
from stackmesh_common.errors import InvalidArgument
from stackmesh_agents.prompts import PromptStore, StoredPrompt, check_template


def _prompt(stored: StoredPrompt) -> prompt_pb2.Prompt:
    return prompt_pb2.Prompt(
        prompt=stored.prompt,
        version=stored.version,
        prompt_id=stored.prompt_id,
        variables=stored.variables,
        is_default=stored.is_default,
    )


def _list(prompts: Iterable[StoredPrompt]) -> prompt_pb2.ListPromptsResponse:
    return prompt_pb2.ListPromptsResponse(data=[_prompt(stored) for stored in prompts])


def _version(version: int) -> int:
    # A required field left out arrives as 0.
    if version < 1:
        raise InvalidArgument(f"`version` must be at least 1, got {version}", param="version")
    return version


class PromptsServicer(pb_grpc.PromptsServiceServicer):
    def __init__(self, prompts: PromptStore) -> None:
        self.prompts = prompts

    async def ListPrompts(self, request: pb.ListPromptsRequest, context: Any) -> prompt_pb2.ListPromptsResponse:
        return _list(await self.prompts.defaults())

    async def CreatePrompt(self, request: pb.CreatePromptRequest, context: Any) -> prompt_pb2.Prompt:
        variables = list(request.variables)
        check_template(request.prompt, variables)
        return _prompt(await self.prompts.create(request.prompt, variables))

    async def GetPrompt(self, request: pb.GetPromptRequest, context: Any) -> prompt_pb2.Prompt:
        version = _version(request.version) if request.HasField("version") else None
        return _prompt(await self.prompts.get(request.prompt_id, version))

    async def UpdatePrompt(self, request: pb.UpdatePromptRequest, context: Any) -> prompt_pb2.Prompt:
        variables = list(request.variables)
        check_template(request.prompt, variables)
        stored = await self.prompts.update(
            request.prompt_id,
            request.prompt,
            variables,
            version=_version(request.version),
            set_as_default=request.set_as_default if request.HasField("set_as_default") else True,
        )
        return _prompt(stored)

    async def DeletePrompt(self, request: pb.DeletePromptRequest, context: Any) -> empty_pb2.Empty:
        await self.prompts.delete(request.prompt_id)
        return empty_pb2.Empty()

    async def SetDefaultPromptVersion(self, request: pb.SetDefaultPromptVersionRequest, context: Any) -> prompt_pb2.Prompt:
        return _prompt(await self.prompts.set_default(request.prompt_id, _version(request.version)))

    async def ListPromptVersions(self, request: pb.ListPromptVersionsRequest, context: Any) -> prompt_pb2.ListPromptsResponse:
        return _list(await self.prompts.versions(request.prompt_id))
