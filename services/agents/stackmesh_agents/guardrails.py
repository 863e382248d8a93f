"""Guardrails: shields of the safety service run on a response's input and on its answer.

A shield's `error`-level violation blocks: the response ends with a refusal message that
carries the shield's user message. Lower levels (a PII shield that only redacts) pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from stackmesh.safety.v1 import safety_service_pb2 as safety_pb
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.peers import SafetyClient
from stackmesh_common.protojson import from_json

log = logging.getLogger("stackmesh.agents")


@dataclass(frozen=True)
class Violation:
    shield_id: str
    user_message: str


def shield_ids(guardrails: list[Any]) -> list[str]:
    """Llama Stack's `guardrails`: shield ids, or {"type": shield id} objects."""
    ids = []
    for index, guardrail in enumerate(guardrails):
        shield_id = guardrail.get("type") if isinstance(guardrail, dict) else guardrail
        if not isinstance(shield_id, str) or not shield_id:
            raise InvalidArgument(f'`guardrails[{index}]` must be a shield id or {{"type": shield id}}', param=f"guardrails[{index}]")
        ids.append(shield_id)
    return ids


class Guardrails:
    def __init__(self, safety: SafetyClient, timeout_s: float) -> None:
        self.safety = safety
        self.timeout_s = timeout_s

    async def check_shields(self, ids: list[str]) -> None:
        """Unknown shields are the caller's 404, before the response starts."""
        for index, shield_id in enumerate(ids):
            await self.safety.get_shield(shield_id, timeout_s=self.timeout_s, param=f"guardrails[{index}]")

    async def run(self, ids: list[str], messages: list[dict[str, Any]]) -> Violation | None:
        for shield_id in ids:
            request = from_json({"shield_id": shield_id, "messages": messages}, safety_pb.RunShieldRequest)
            try:
                reply = await self.safety.run_shield(request, timeout_s=self.timeout_s)
            except InvalidArgument as exc:
                # The safety service names fields of its own request (`messages[3].content`).
                raise InvalidArgument(f"the guardrail {shield_id!r} cannot check this response: {exc.message}", param="input") from None
            if reply.HasField("violation") and reply.violation.violation_level == "error":
                log.info("guardrail %s blocked a response: %s", shield_id, dict(reply.violation.metadata))
                return Violation(shield_id, reply.violation.user_message or f"Blocked by the {shield_id} guardrail.")
        return None
