"""The scoring functions registry: the built-ins (seeded at start) and user-registered regex
and judge functions, in the shared resources table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from stackmesh_common.errors import InvalidArgument
from stackmesh_common.peers import InferenceClient
from stackmesh_common.resources import Resource, ResourceRegistry
from stackmesh_eval.datasets.catalog import check_id
from stackmesh_eval.scoring.builtins import BUILTINS, ScoringFnDef
from stackmesh_eval.scoring.params import FnParams, check_params, parse_params

# Providers as Llama Stack names them; a function's params type decides which one scores it.
PROVIDERS = {"basic": ("basic", "regex_parser"), "llm-as-judge": ("llm_as_judge",)}
RETURN_TYPES = (
    "string", "number", "boolean", "array", "object", "json", "union", "chat_completion_input", "completion_input",
)


@dataclass(frozen=True)
class RegisteredFn:
    definition: ScoringFnDef
    owner: str


def _resource(fn: ScoringFnDef, provider_resource_id: str | None = None) -> Resource:
    params = fn.params.model_dump(exclude_none=True) if fn.params else None
    return Resource(
        id=fn.identifier,
        provider_id=fn.provider_id,
        provider_resource_id=provider_resource_id or fn.identifier,
        type=fn.params.type if fn.params else "basic",
        params={"description": fn.description, "return_type": fn.return_type, "params": params},
    )


def _definition(resource: Resource) -> ScoringFnDef:
    params = resource.params.get("params")
    return ScoringFnDef(
        identifier=resource.id,
        provider_id=resource.provider_id,
        description=resource.params.get("description", ""),
        return_type=resource.params.get("return_type", "number"),
        params=FnParams.model_validate(params) if params else None,
    )


async def _as_stored(resource: Resource) -> Resource:
    return resource


class ScoringFunctions:
    def __init__(self, pool: AsyncConnectionPool, inference: InferenceClient, timeout_s: float) -> None:
        self.registry = ResourceRegistry(
            pool, "scoring_functions", dict.fromkeys(PROVIDERS), noun="scoring function", activate=_as_stored, list_unservable=True
        )
        self.inference = inference
        self.timeout_s = timeout_s

    async def start(self) -> None:
        await self.registry.start([_resource(fn) for fn in BUILTINS.values()])

    async def list(self) -> list[tuple[ScoringFnDef, Resource]]:
        return [(_definition(r), r) for r in await self.registry.list()]

    async def get(self, fn_id: str, param: str = "scoring_fn_id") -> tuple[ScoringFnDef, Resource]:
        resource = await self.registry.get(fn_id, param)
        return _definition(resource), resource

    async def register(
        self, fn_id: str, description: str, return_type: str, provider_id: str, provider_fn_id: str, params: dict[str, Any] | None
    ) -> None:
        check_id(fn_id, "scoring_fn_id", "scoring function")
        if not params:
            raise InvalidArgument(
                "`params` is required: a regex_parser (parsing_regexes) or llm_as_judge (judge_model, prompt_template, "
                "judge_score_regexes) function; the basic ones are built in",
                param="params",
            )
        parsed = parse_params(params, where="params")
        check_params(parsed, where="params")
        if parsed.type == "basic":
            raise InvalidArgument(
                "functions of type basic are built in (basic::equality, basic::subset_of, …); register a regex_parser or "
                "llm_as_judge function",
                param="params.type",
            )
        if return_type not in RETURN_TYPES:
            raise InvalidArgument(f"`return_type.type` must be one of {', '.join(RETURN_TYPES)}, got {return_type!r}", param="return_type.type")
        expected = next(p for p, types in PROVIDERS.items() if parsed.type in types)
        if provider_id and provider_id != expected:
            raise InvalidArgument(f"functions of type {parsed.type} are scored by provider {expected!r}, not {provider_id!r}", param="provider_id")
        if parsed.judge_model:
            await self.check_judge(parsed.judge_model, "params.judge_model")
        fn = ScoringFnDef(fn_id, expected, description, return_type, parsed)
        await self.registry.register(_resource(fn, provider_fn_id), "scoring_fn_id")

    async def unregister(self, fn_id: str) -> None:
        definition, resource = await self.get(fn_id)
        if resource.source == "config":
            raise InvalidArgument(f"`{definition.identifier}` is built in and cannot be unregistered", param="scoring_fn_id")
        await self.registry.unregister(fn_id, "scoring_fn_id")

    async def check_judge(self, model: str, param: str) -> None:
        await self.inference.require_model(model, timeout_s=self.timeout_s, param=param, noun="judge model")
