"""Provider registry: a provider type name maps to a module with a typed config and a factory.

A provider module defines `Config` (a pydantic model; importing the module must stay cheap)
and `async def create(config, context)`, which does the heavy imports and loading. Out-of-tree
providers register a ProviderSpec under the entry-point group `stackmesh.providers.<api>`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from stackmesh_common.config import ConfigError, ProviderConfig


@dataclass(frozen=True)
class ProviderSpec:
    """What the registry knows about a provider type before loading it."""

    provider_type: str
    module: str
    description: str


@dataclass
class LoadedProvider:
    """A provider instance with the config it was built from."""

    provider_id: str
    provider_type: str
    config: BaseModel
    impl: Any


class ProviderRegistry:
    """The provider types one API knows: built-in ones plus entry-point plugins."""

    def __init__(self, api: str, builtin: list[ProviderSpec]) -> None:
        self.api = api
        self._specs = {spec.provider_type: spec for spec in builtin}
        for entry in entry_points(group=f"stackmesh.providers.{api}"):
            spec = entry.load()
            if not isinstance(spec, ProviderSpec):
                raise ConfigError(f"entry point {entry.name!r} of stackmesh.providers.{api} is not a ProviderSpec")
            self._specs[spec.provider_type] = spec

    @property
    def provider_types(self) -> list[str]:
        return sorted(self._specs)

    def spec(self, provider_type: str) -> ProviderSpec:
        try:
            return self._specs[provider_type]
        except KeyError:
            raise ConfigError(
                f"unknown {self.api} provider type {provider_type!r}; known types: {', '.join(self.provider_types)}"
            ) from None

    def parse_config(self, provider: ProviderConfig) -> tuple[Any, BaseModel]:
        """The provider's module and typed config; a key the config does not know is an error
        (a typo in a distribution file would otherwise silently keep the default)."""
        module = importlib.import_module(self.spec(provider.provider_type).module)
        known = set(module.Config.model_fields) | {
            field.alias for field in module.Config.model_fields.values() if field.alias
        }
        unknown = sorted(set(provider.config) - known)
        if unknown:
            raise ConfigError(
                f"provider {provider.provider_id!r} ({provider.provider_type}) has no setting {', '.join(map(repr, unknown))}; "
                f"its settings: {', '.join(sorted(module.Config.model_fields)) or 'none'}"
            )
        try:
            return module, module.Config.model_validate(provider.config)
        except ValidationError as exc:
            raise ConfigError(f"invalid config for provider {provider.provider_id!r} ({provider.provider_type}):\n{exc}") from None

    async def create(self, provider: ProviderConfig, context: Any = None) -> LoadedProvider:
        module, config = self.parse_config(provider)
        impl = await module.create(config, context)
        return LoadedProvider(provider.provider_id, provider.provider_type, config, impl)
