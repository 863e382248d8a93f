"""inline::pii: emails, phone numbers, payment cards and secrets in any message.

Metadata never repeats a finding's value: it gives its type, position and a masked form,
and, with `redact`, the messages with every finding replaced (e.g. `[EMAIL]`), ready to
forward in place of the originals.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field

from stackmesh_safety.detectors import pii_patterns
from stackmesh_safety.messages import Message
from stackmesh_safety.providers.base import ProviderContext, Shield, ShieldResult, Violation, parse_params
from stackmesh_safety.workers import DetectorWorkers

Entity = Literal["email", "phone", "credit_card", "secret"]
# Moderation category of each entity; OpenAI's moderation has none for personal data.
CATEGORIES = {entity: f"pii/{entity.replace('_', '-')}" for entity in pii_patterns.ENTITIES}
# Findings listed in metadata (`findings_total` counts them all; redaction covers them all):
# a long message can hold thousands, and turning them into the reply is event-loop work.
MAX_FINDINGS = 100


class Config(BaseModel):
    # Region whose national phone formats are recognised without a +country prefix (ISO 3166).
    default_region: str = "US"


class ShieldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entities: list[Entity] = Field(default_factory=lambda: list(pii_patterns.ENTITIES), min_length=1)
    # Return the messages with findings replaced in `metadata.redacted_messages`.
    redact: bool = False
    violation_level: Literal["info", "warn", "error"] = "warn"


class PiiProvider:
    def __init__(self, config: Config, workers: DetectorWorkers) -> None:
        self.config = config
        self.workers = workers

    async def validate_shield(self, shield: Shield) -> None:
        parse_params(ShieldParams, shield.params)

    async def run_shield(self, shield: Shield, messages: Sequence[Message], params: dict[str, Any]) -> ShieldResult:
        options = parse_params(ShieldParams, params)
        # Matching is CPU work that grows with the text (phone numbers in pure Python).
        return await self.workers.run(_scan, list(messages), options, self.config.default_region)

    async def close(self) -> None:
        """The workers belong to the service."""


def _scan(messages: list[Message], options: ShieldParams, region: str) -> ShieldResult:
    """Runs in a worker process."""
    found = [pii_patterns.find(m.text, options.entities, region) for m in messages]
    entities = {finding.entity for findings in found for finding in findings}
    flagged = frozenset(CATEGORIES[entity] for entity in entities)
    scores = {CATEGORIES[entity]: float(entity in entities) for entity in options.entities}
    if not entities:
        return ShieldResult(None, scores, flagged)
    located = [(index, message, f) for index, (message, findings) in enumerate(zip(messages, found)) for f in findings]
    metadata: dict[str, Any] = {
        "violation_type": "pii",
        "entities": sorted(entities),
        "findings": [
            {"entity": f.entity, "kind": f.kind, "message_index": index, "start": f.start, "end": f.end,
             "masked": pii_patterns.masked(message.text, f)}
            for index, message, f in located[:MAX_FINDINGS]
        ],  # fmt: skip
        "findings_total": len(located),
    }
    if options.redact:
        metadata["redacted_messages"] = [
            {"role": message.role, "content": pii_patterns.redact(message.text, findings)}
            for message, findings in zip(messages, found)
        ]
    names = ", ".join(entity.replace("_", " ") for entity in sorted(entities))
    violation = Violation(options.violation_level, f"The conversation contains personal data or secrets ({names}).", metadata)
    return ShieldResult(violation, scores, flagged)


async def create(config: Config, context: ProviderContext) -> PiiProvider:
    return PiiProvider(config, context.workers)
