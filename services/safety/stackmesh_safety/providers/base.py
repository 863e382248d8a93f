"""The contract every safety provider implements, and what a shield run returns."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Coroutine, Protocol, Sequence, TypeVar

from pydantic import BaseModel, ValidationError

from stackmesh_common.config import ConfigError
from stackmesh_common.errors import InvalidArgument
from stackmesh_safety.inference_client import GuardInference
from stackmesh_safety.messages import Message
from stackmesh_safety.workers import DetectorWorkers

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Shield:
    """A registered shield, as a provider sees it."""

    identifier: str
    provider_id: str
    # What the provider runs the shield on (llama-guard: the inference model).
    provider_resource_id: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    level: str
    user_message: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class ShieldResult:
    """One shield run: the violation (if any) and its moderation categories.

    `scores` has every category the provider reports (0 when not found): OpenAI's names where
    the finding maps to one, the provider's own (e.g. `prompt-injection`) where none does.
    """

    violation: Violation | None
    scores: dict[str, float]
    flagged: frozenset[str]


class SafetyProvider(Protocol):
    """One provider instance; it may back several shields."""

    async def validate_shield(self, shield: Shield) -> None:
        """Raises InvalidArgument when the provider cannot run `shield` (bad params, unknown model)."""

    async def run_shield(self, shield: Shield, messages: Sequence[Message], params: dict[str, Any]) -> ShieldResult:
        """Checks messages; `params` are the shield's params with the caller's run params over them."""

    async def close(self) -> None: ...


def parse_params(model: type[P], params: dict[str, Any]) -> P:
    """A provider's typed shield params; a bad value is the caller's mistake, named by field."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidArgument(f"invalid shield params: `{where}`: {first['msg']}", param="params") from None


@dataclass
class ProviderContext:
    """What the service hands provider factories: its peers, its detector processes and a
    place for background work."""

    # The inference service, when the distribution has one.
    inference: GuardInference | None
    # Where CPU-bound detection runs, off the event loop and under a deadline.
    workers: DetectorWorkers
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def require_inference(self, provider_type: str) -> GuardInference:
        if self.inference is None:
            raise ConfigError(f"{provider_type} runs models of the inference service; add an `inference` service to the distribution")
        return self.inference

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        """Runs `work` on the loop; kept referenced until done, cancelled when the service closes."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
