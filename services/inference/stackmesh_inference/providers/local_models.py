"""Which files on the server a provider may load for a model registration: names of the
packaged catalog, names its config maps to files, and paths under its configured model
roots. Nothing else on disk — and the refusal reads the same whether a path exists or not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from stackmesh_common.errors import InvalidArgument
from stackmesh_common.packaged_models import GGUF_CATALOG, packaged_gguf


def local_model_path(
    provider: str, provider_model_id: str, *, mapped: dict[str, str], roots: list[str], loadable: Callable[[Path], bool], kind: str
) -> Path:
    """The file or directory to load; `loadable` says whether a path under a root is one the
    provider reads (a .gguf file, a checkpoint directory)."""
    if provider_model_id in mapped:
        return Path(mapped[provider_model_id])
    if provider_model_id in GGUF_CATALOG:
        return packaged_gguf(provider_model_id)
    path = Path(provider_model_id)
    if roots and path.is_absolute():
        resolved = path.resolve()  # symlinks and `..` cannot leave a root
        if any(resolved.is_relative_to(Path(root).resolve()) for root in roots) and loadable(resolved):
            return resolved
    names = ", ".join(sorted(GGUF_CATALOG | mapped.keys()))
    where = f"{kind} under {', '.join(roots)}" if roots else f"a {kind} path once the provider's `model_roots` allow one"
    raise InvalidArgument(f"{provider} cannot load {provider_model_id!r}: give one of {names}, or {where}", param="provider_model_id")
