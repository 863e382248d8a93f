"""The safety provider types this service knows (plugins add more via entry points)."""

from stackmesh_common.registry import ProviderRegistry, ProviderSpec

BUILTIN = [
    ProviderSpec(
        provider_type="inline::llama-guard",
        module="stackmesh_safety.providers.llama_guard",
        description="Llama Guard 3 (S1-S14 hazards) run on a model of the inference service.",
    ),
    ProviderSpec(
        provider_type="inline::prompt-guard",
        module="stackmesh_safety.providers.prompt_guard",
        description="Prompt injection and jailbreak detection: embedding similarity to known attacks, plus phrase rules.",
    ),
    ProviderSpec(
        provider_type="inline::code-scanner",
        module="stackmesh_safety.providers.code_scanner",
        description="Insecure Python in messages and tool calls, found by bandit.",
    ),
    ProviderSpec(
        provider_type="inline::pii",
        module="stackmesh_safety.providers.pii",
        description="Emails, phone numbers, payment cards and secrets, with optional redaction.",
    ),
]


def registry() -> ProviderRegistry:
    return ProviderRegistry("safety", BUILTIN)
