"""The inference provider types this service knows (plugins add more via entry points)."""

from stackmesh_common.registry import ProviderRegistry, ProviderSpec

BUILTIN = [
    ProviderSpec(
        provider_type="inline::llama-cpp",
        module="stackmesh_inference.providers.llama_cpp",
        description="GGUF models on llama.cpp (xllamacpp), in process, with parallel slots.",
    ),
    ProviderSpec(
        provider_type="inline::sentence-transformers",
        module="stackmesh_inference.providers.sentence_transformers",
        description="Embedding models on sentence-transformers (torch), in process.",
    ),
]


def registry() -> ProviderRegistry:
    return ProviderRegistry("inference", BUILTIN)
