"""inline::llama-guard: Llama Guard 3 run on a model of the inference service.

A shield's `provider_shield_id` names the inference model. Deployments register a Llama
Guard model there (e.g. Llama-Guard-3-1B on vLLM or as a GGUF on llama.cpp); the default
local distribution points the shield at SmolLM2, which exercises the whole path but is no
guard: unconstrained, its answers are not Llama Guard verdicts (reported as errors), so the
local distribution sets `constrain_verdict` to force the verdict grammar.
"""

from __future__ import annotations

from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stackmesh_common.errors import InvalidArgument, StackmeshError
from stackmesh_safety.detectors import llama_guard_format as lg
from stackmesh_safety.inference_client import GuardInference
from stackmesh_safety.messages import Message
from stackmesh_safety.providers.base import Shield, ShieldResult, Violation, parse_params


class Config(BaseModel):
    # Sampling seed; with temperature 0 a verdict is reproducible.
    seed: int = 42
    # A verdict is at most "unsafe" and 14 codes.
    max_tokens: int = Field(default=32, ge=8)
    # Deadline of one guard-model call.
    timeout_s: float = Field(default=60.0, gt=0)
    # Constrain the guard model's reply to the verdict grammar. Real Llama Guard models answer
    # in it on their own; a stand-in model (SmolLM2 in the local distribution) needs this to
    # give verdicts at all. Its verdicts are then well-formed, not meaningful.
    constrain_verdict: bool = False
    # Shown to the end user in place of content the guard blocked.
    user_message: str = "I can't help with that: it was flagged as unsafe ({categories})."


class ShieldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Codes left out of the policy, e.g. ["S6", "S8"].
    excluded_categories: list[str] = Field(default_factory=list)
    # Overrides the provider's constrain_verdict for this shield or run.
    constrain_verdict: bool | None = None

    @field_validator("excluded_categories")
    @classmethod
    def _known(cls, codes: list[str]) -> list[str]:
        unknown = [code for code in codes if code not in lg.CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; Llama Guard 3 has S1-S14")
        return codes


class LlamaGuardProvider:
    def __init__(self, config: Config, inference: GuardInference) -> None:
        self.config = config
        self.inference = inference

    async def validate_shield(self, shield: Shield) -> None:
        parse_params(ShieldParams, shield.params)
        model = await self.inference.get_model(shield.provider_resource_id, timeout_s=self.config.timeout_s)
        if model is None:
            raise InvalidArgument(
                f"llama-guard runs on an inference model; `{shield.provider_resource_id}` is not registered there "
                "(register a Llama Guard model, then name it in `provider_shield_id`)",
                param="provider_shield_id",
            )
        if model.model_type != "llm":
            raise InvalidArgument(
                f"llama-guard needs an llm model; `{model.id}` is of type {model.model_type!r}", param="provider_shield_id"
            )

    async def run_shield(self, shield: Shield, messages: Sequence[Message], params: dict[str, Any]) -> ShieldResult:
        options = parse_params(ShieldParams, params)
        turns = lg.conversation(messages)
        if not turns:
            raise InvalidArgument("llama-guard judges user, tool or assistant messages; none were given", param="messages")
        prompt = lg.build_prompt(turns, options.excluded_categories)
        output = await self.inference.chat(
            shield.provider_resource_id,
            [{"role": "user", "content": prompt}],
            max_tokens=self.config.max_tokens,
            seed=self.config.seed,
            timeout_s=self.config.timeout_s,
            guided_regex=lg.VERDICT_REGEX if _pick(options.constrain_verdict, self.config.constrain_verdict) else None,
        )
        try:
            verdict = lg.parse_verdict(output)
        except lg.GuardOutputError as exc:
            raise StackmeshError(
                f"shield `{shield.identifier}`: the guard model `{shield.provider_resource_id}` gave no Llama Guard verdict "
                f"({exc}); register a Llama Guard model for this shield",
                reason="guard_output_unparseable",
            ) from None
        # A code the policy left out is not a violation of it.
        codes = [code for code in verdict.codes if code not in options.excluded_categories]
        flagged = lg.moderation_categories(codes)
        scores = {category: float(category in flagged) for category in lg.REPORTED_CATEGORIES}
        if not codes:
            return ShieldResult(None, scores, frozenset())
        names = ", ".join(lg.CATEGORIES[code] for code in codes)
        violation = Violation(
            level="error",
            user_message=self.config.user_message.format(categories=names),
            metadata={
                "violation_type": ",".join(codes),
                "categories": {code: lg.CATEGORIES[code] for code in codes},
                "model": shield.provider_resource_id,
            },
        )
        return ShieldResult(violation, scores, flagged)

    async def close(self) -> None:
        """The inference channel belongs to the service."""


async def create(config: Config, context: Any) -> LlamaGuardProvider:
    return LlamaGuardProvider(config, context.require_inference("inline::llama-guard"))


def _pick(override: bool | None, default: bool) -> bool:
    return default if override is None else override
