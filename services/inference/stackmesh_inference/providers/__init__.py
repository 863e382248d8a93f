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
    ProviderSpec(
        provider_type="inline::transformers",
        module="stackmesh_inference.providers.transformers",
        description="Hugging Face model directories (and GGUF files) on transformers (torch), in process.",
    ),
    ProviderSpec(
        provider_type="remote::vllm",
        module="stackmesh_inference.providers.vllm",
        description="A vLLM server's OpenAI-compatible API, with vLLM's sampling and guided-decoding extras.",
    ),
    ProviderSpec(
        provider_type="remote::openai",
        module="stackmesh_inference.providers.openai",
        description="OpenAI's API, or any server that speaks exactly it.",
    ),
]


def registry() -> ProviderRegistry:
    return ProviderRegistry("inference", BUILTIN)
