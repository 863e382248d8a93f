"""The vector_io provider types this service knows (plugins add more via entry points)."""

from stackmesh_common.registry import ProviderRegistry, ProviderSpec

BUILTIN = [
    ProviderSpec(
        provider_type="remote::pgvector",
        module="stackmesh_vector_io.providers.pgvector",
        description="PostgreSQL + pgvector: HNSW for vectors, tsvector + GIN for keywords, a table per store.",
    ),
    ProviderSpec(
        provider_type="inline::sqlite-vec",
        module="stackmesh_vector_io.providers.sqlite_vec",
        description="Embedded SQLite: sqlite-vec for vectors, FTS5 for keywords, one database file.",
    ),
]


def registry() -> ProviderRegistry:
    return ProviderRegistry("vector_io", BUILTIN)
