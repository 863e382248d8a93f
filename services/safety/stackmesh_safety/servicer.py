"""gRPC servicers of the safety API: convert, validate, route each shield to its provider."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2

from stackmesh.safety.v1 import safety_service_pb2 as pb
from stackmesh.safety.v1 import safety_service_pb2_grpc as pb_grpc
from stackmesh.safety.v1 import shield_pb2
from stackmesh_common.errors import DeadlineExceeded, StackmeshError, Unavailable
from stackmesh_common.protojson import from_json, plain
from stackmesh_safety.limits import check_messages, check_moderation_inputs
from stackmesh_safety.messages import Message, moderation_inputs, parse_messages
from stackmesh_safety.moderation import ModerationResult, merge
from stackmesh_safety.providers.base import Shield, ShieldResult
from stackmesh_safety.settings import InputLimits
from stackmesh_safety.shields import ShieldRegistry
from stackmesh_safety.workers import DetectorTimeout, DetectorWorkerLost, describe

log = logging.getLogger("stackmesh.safety")


def _struct(data: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(data)
    return message


def shield_to_proto(shield: Shield) -> shield_pb2.Shield:
    return shield_pb2.Shield(
        identifier=shield.identifier,
        provider_id=shield.provider_id,
        provider_resource_id=shield.provider_resource_id,
        params=_struct(shield.params),
        type="shield",
    )


async def run(shields: ShieldRegistry, shield: Shield, messages: list[Message], params: dict[str, Any]) -> ShieldResult:
    """One shield on the messages; a check that could not finish is an error, never a verdict."""
    try:
        return await shields.provider(shield).run_shield(shield, messages, {**shield.params, **params})
    except StackmeshError:
        raise
    except DetectorTimeout as exc:
        raise DeadlineExceeded(
            f"shield `{shield.identifier}` did not finish within {exc.timeout_s:g} s; check less text per request",
            reason="shield_timeout",
        ) from None
    except DetectorWorkerLost:
        raise Unavailable(f"shield `{shield.identifier}` lost its worker process mid-check; retry the request") from None
    except Exception as exc:
        # Logged without its message, which could quote the checked text.
        log.error("shield %s failed: %s", shield.identifier, describe(exc))
        raise StackmeshError(f"shield `{shield.identifier}` failed", reason="shield_failed") from None


class ShieldsServicer(pb_grpc.ShieldsServiceServicer):
    def __init__(self, shields: ShieldRegistry) -> None:
        self.shields = shields

    async def ListShields(self, request: pb.ListShieldsRequest, context: Any) -> pb.ListShieldsResponse:
        return pb.ListShieldsResponse(data=[shield_to_proto(s) for s in await self.shields.list()])

    async def GetShield(self, request: pb.GetShieldRequest, context: Any) -> shield_pb2.Shield:
        return shield_to_proto(await self.shields.resolve(request.identifier, param="identifier"))

    async def RegisterShield(self, request: pb.RegisterShieldRequest, context: grpc.aio.ServicerContext) -> shield_pb2.Shield:
        shield = await self.shields.register(
            shield_id=request.shield_id,
            provider_shield_id=request.provider_shield_id,
            provider_id=request.provider_id,
            params=plain(request.params),
        )
        return shield_to_proto(shield)

    async def UnregisterShield(self, request: pb.UnregisterShieldRequest, context: Any) -> empty_pb2.Empty:
        await self.shields.unregister(request.identifier)
        return empty_pb2.Empty()


def _violation_json(result: ShieldResult) -> dict[str, Any] | None:
    """Llama Stack's `violation` JSON, None when nothing was flagged. Responses are parsed from
    it: a typed field is then left unset, and a JSON-valued one (Value, Struct) holds `null`,
    which is what REST clients expect to read."""
    violation = result.violation
    if violation is None:
        return None
    return {"violation_level": violation.level, "user_message": violation.user_message, "metadata": violation.metadata}


class SafetyServicer(pb_grpc.SafetyServiceServicer):
    def __init__(self, shields: ShieldRegistry, limits: InputLimits) -> None:
        self.shields = shields
        self.limits = limits

    async def _run_shield(self, request: pb.RunShieldRequest) -> dict[str, Any]:
        shield = await self.shields.resolve(request.shield_id)
        messages = parse_messages([plain(value) for value in request.messages])
        check_messages(messages, self.limits)
        result = await run(self.shields, shield, messages, plain(request.params))
        return {"violation": _violation_json(result)}

    async def RunShield(self, request: pb.RunShieldRequest, context: grpc.aio.ServicerContext) -> pb.RunShieldResponse:
        return from_json(await self._run_shield(request), pb.RunShieldResponse)

    async def RunShieldHttp(self, request: pb.RunShieldRequest, context: grpc.aio.ServicerContext) -> struct_pb2.Struct:
        return from_json(await self._run_shield(request), struct_pb2.Struct)


def _result_to_proto(result: ModerationResult) -> pb.ModerationResult:
    message = pb.ModerationResult(
        flagged=result.flagged,
        categories=result.categories,
        category_scores=result.category_scores,
        user_message=result.user_message,
        metadata=_struct(result.metadata),
    )
    for category, types in result.category_applied_input_types.items():
        message.category_applied_input_types[category].extend(types)
    return message


class ModerationsServicer(pb_grpc.ModerationsServiceServicer):
    def __init__(self, shields: ShieldRegistry, limits: InputLimits) -> None:
        self.shields = shields
        self.limits = limits

    async def CreateModeration(self, request: pb.CreateModerationRequest, context: grpc.aio.ServicerContext) -> pb.ModerationObject:
        inputs = moderation_inputs(plain(request.input) if request.HasField("input") else None)
        check_moderation_inputs(inputs, self.limits)
        shields = await self.shields.for_moderation(request.model)
        # Every (input, shield) pair at once: shields are independent, and the slow ones
        # (a guard model) should not queue behind each other.
        runs = await asyncio.gather(
            *(run(self.shields, shield, [Message("user", text)], {}) for text in inputs for shield in shields)
        )
        per_input = [
            merge([(shield.identifier, runs[i * len(shields) + j]) for j, shield in enumerate(shields)]) for i in range(len(inputs))
        ]
        return pb.ModerationObject(
            id=f"modr-{uuid.uuid4().hex}",
            model=request.model or ",".join(shield.identifier for shield in shields),
            results=[_result_to_proto(result) for result in per_input],
        )
