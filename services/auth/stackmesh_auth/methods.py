"""What the gateway's check needs to know about each gRPC method, read from the contracts."""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache

import stackmesh
from stackmesh.common.v1 import access_pb2

# Methods that spend model tokens: refused once a principal's tokens_per_day is used up
# (reading what was made stays allowed).
_SPENDS_TOKENS = re.compile(
    r"/stackmesh\.(inference|agents|eval|synthetic_data|post_training)\.v1\.\w+/"
    r"(Create(ChatCompletion|Completion|Embeddings|Response|Turn|Batch)|Stream\w+|Resume\w+|Rerank|RunEval|EvaluateRows"
    r"|Generate|SupervisedFineTune|PreferenceOptimize)$"
)


@cache
def admin_methods() -> frozenset[str]:
    """Paths (/package.Service/Method) of every method marked ACCESS_ADMIN."""
    paths = set()
    for module in pkgutil.walk_packages(stackmesh.__path__, "stackmesh."):
        if not module.name.endswith("_pb2"):
            continue
        file = importlib.import_module(module.name).DESCRIPTOR
        for service in file.services_by_name.values():
            for method in service.methods:
                if method.GetOptions().Extensions[access_pb2.access] == access_pb2.ACCESS_ADMIN:
                    paths.add(f"/{service.full_name}/{method.name}")
    return frozenset(paths)


def spends_tokens(path: str) -> bool:
    return _SPENDS_TOKENS.match(path) is not None
