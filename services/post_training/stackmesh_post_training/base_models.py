"""Where a base model's weights are: the model must be registered with the inference service,
and its weights readable here — a packaged GGUF, a model exported by an earlier job, or a
path the distribution maps the model id to."""

from __future__ import annotations

from pathlib import Path

from stackmesh_common.errors import FailedPrecondition
from stackmesh_common.packaged_models import GGUF_CATALOG, packaged_gguf
from stackmesh_common.peers import InferenceClient


class BaseModels:
    def __init__(self, inference: InferenceClient, mapped: dict[str, Path], exported: Path, timeout_s: float) -> None:
        self.inference = inference
        self.mapped = mapped
        self.exported = exported.resolve()
        self.timeout_s = timeout_s

    async def weights(self, model_id: str, param: str) -> Path:
        model = await self.inference.require_model(model_id, timeout_s=self.timeout_s, param=param)
        if model.model_type != "llm":
            raise FailedPrecondition(f"`{model_id}` is an {model.model_type} model; fine-tuning takes an llm", param=param)
        for name in (model.id, model_id, *model.aliases):
            if name in self.mapped:
                return self.mapped[name]
        if model.provider_resource_id in GGUF_CATALOG:
            return packaged_gguf(model.provider_resource_id)
        path = Path(model.provider_resource_id)
        # A model an earlier job exported (its inference provider loads it by this path).
        if path.is_absolute() and path.resolve().is_relative_to(self.exported) and path.is_dir():
            return path.resolve()
        raise FailedPrecondition(
            f"the weights of `{model_id}` (served by {model.provider_id} as {model.provider_resource_id!r}) are not readable by "
            "the post_training service; map the model to its weights in services.post_training.settings.models",
            param=param,
        )
