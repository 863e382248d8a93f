"""The file_search tool: searches the tool's vector stores over the vector_io service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackmesh.vector_io.v1 import vector_io_service_pb2 as vector_io_pb
from stackmesh_common.peers import VectorIOClient
from stackmesh_common.protojson import from_json, plain
from stackmesh_agents.items import Item, new_id

DEFAULT_MAX_RESULTS = 10
RESULTS_INCLUDE = "file_search_call.results"


@dataclass(frozen=True)
class SearchOutcome:
    item: Item
    # What the model reads as the tool's answer.
    tool_output: str
    # The files the answer may cite, in result order.
    files: list[tuple[str, str]]


class FileSearch:
    def __init__(self, vector_io: VectorIOClient, timeout_s: float) -> None:
        self.vector_io = vector_io
        self.timeout_s = timeout_s

    async def check_stores(self, tool: dict[str, Any], where: str) -> None:
        """Unknown vector stores are the caller's 404, before the response starts."""
        for store_id in tool["vector_store_ids"]:
            await self.vector_io.get_vector_store(store_id, timeout_s=self.timeout_s, param=f"{where}.vector_store_ids")

    async def run(self, tool: dict[str, Any], query: str, include_results: bool) -> SearchOutcome:
        limit = tool.get("max_num_results") or DEFAULT_MAX_RESULTS
        hits = []
        for store_id in tool["vector_store_ids"]:
            request = from_json(
                {
                    "vector_store_id": store_id,
                    "query": query,
                    "max_num_results": limit,
                    **({"filters": tool["filters"]} if tool.get("filters") else {}),
                    **({"ranking_options": tool["ranking_options"]} if tool.get("ranking_options") else {}),
                },
                vector_io_pb.SearchVectorStoreRequest,
            )
            page = await self.vector_io.search(request, timeout_s=self.timeout_s, param="tools")
            hits += page.data
        hits = sorted(hits, key=lambda hit: hit.score, reverse=True)[:limit]
        results = [
            {
                "file_id": hit.file_id,
                "filename": hit.filename,
                "score": hit.score,
                "text": "\n".join(part.text for part in hit.content),
                "attributes": plain(hit.attributes),
            }
            for hit in hits
        ]
        item: Item = {"type": "file_search_call", "id": new_id("fs"), "status": "completed", "queries": [query]}
        if include_results:
            item["results"] = results
        files = list(dict.fromkeys((r["file_id"], r["filename"]) for r in results))
        return SearchOutcome(item, _for_the_model(results), files)


def _for_the_model(results: list[dict[str, Any]]) -> str:
    if not results:
        return "No passages matched the query."
    passages = [f"[{n}] {r['filename']}:\n{r['text']}" for n, r in enumerate(results, start=1)]
    return "Passages found, most relevant first:\n\n" + "\n\n".join(passages)
