"""Chunking strategies (OpenAI's `auto` and `static`) and the splitter that applies them.

Tokens are the words and punctuation marks of the BERT pre-tokenizer (HF `tokenizers`),
counted without a vocabulary: the service cannot know every embedding model's tokenizer,
and a model's word pieces are at least as many. Each chunk is the exact source text from
its first token to its last, so whitespace and line breaks survive.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass

from tokenizers.pre_tokenizers import BertPreTokenizer

from stackmesh.vector_io.v1 import vector_store_pb2 as vs_pb
from stackmesh_common.errors import InvalidArgument

DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP_TOKENS = 800, 400
MIN_MAX_TOKENS, MAX_MAX_TOKENS = 100, 4096
TOKENIZER = "bert-pre-tokenizer"
# Text is pre-tokenized this many characters at a time: the tokenizer's list of (token,
# offsets) tuples costs ~375 bytes a token, the offsets kept from it 16.
SEGMENT_CHARS = 1 << 16
# Where the pre-tokenizer always splits (it drops whitespace and isolates ASCII punctuation),
# so a segment ending there cuts no token in two.
_SPLIT_POINT = re.compile(r"[ \t\n\r!-/:-@\[-`{-~]")


@dataclass(frozen=True)
class Strategy:
    """A resolved static strategy; `auto` resolves to one too."""

    max_chunk_size_tokens: int
    chunk_overlap_tokens: int

    def as_dict(self) -> dict[str, int]:
        return {"max_chunk_size_tokens": self.max_chunk_size_tokens, "chunk_overlap_tokens": self.chunk_overlap_tokens}


@dataclass(frozen=True)
class TextChunk:
    text: str
    tokens: int


class TooManyChunks(Exception):
    def __init__(self, count: int) -> None:
        super().__init__(f"the text makes {count} chunks")
        self.count = count


def auto_strategy(context_length: int | None) -> Strategy:
    """OpenAI's auto (800 tokens, 400 overlap), shrunk to fit the embedding model's input: a
    chunk longer than the model reads would be embedded by its beginning only. Three quarters
    of the context length leaves room for word pieces outnumbering words."""
    size = DEFAULT_MAX_TOKENS
    if context_length:
        size = max(MIN_MAX_TOKENS, min(size, context_length * 3 // 4))
    return Strategy(size, size // 2)


def _contextual_refused(config: vs_pb.ContextualChunkingConfig, param: str) -> InvalidArgument:
    """Llama Stack's contextual chunking has an LLM situate each chunk in its document; it needs
    a model, and this server has no default one. With a model, the strategy is still refused:
    ingestion does not call LLMs yet."""
    if not config.model_id:
        return InvalidArgument(
            f"`{param}.contextual.model_id` is required: contextual chunking needs a model to situate each chunk",
            param=f"{param}.contextual.model_id",
        )
    return InvalidArgument(
        f"the `contextual` chunking strategy is not supported yet (model `{config.model_id}`); use `auto` or `static`",
        param=f"{param}.type",
    )


def resolve(strategy: vs_pb.ChunkingStrategy | None, context_length: int | None, param: str = "chunking_strategy") -> Strategy:
    """The static strategy a request asks for; a bad one is a 400 naming its field."""
    if strategy is None or strategy.type in ("", "auto"):
        return auto_strategy(context_length)
    if strategy.type == "contextual":
        raise _contextual_refused(strategy.contextual, param)
    if strategy.type != "static":
        raise InvalidArgument(f"`{param}.type` must be `auto` or `static`, got {strategy.type!r}", param=f"{param}.type")
    static = strategy.static
    size = static.max_chunk_size_tokens if static.HasField("max_chunk_size_tokens") else DEFAULT_MAX_TOKENS
    overlap = static.chunk_overlap_tokens if static.HasField("chunk_overlap_tokens") else DEFAULT_OVERLAP_TOKENS
    if not MIN_MAX_TOKENS <= size <= MAX_MAX_TOKENS:
        raise InvalidArgument(
            f"`{param}.static.max_chunk_size_tokens` must be between {MIN_MAX_TOKENS} and {MAX_MAX_TOKENS}, got {size}",
            param=f"{param}.static.max_chunk_size_tokens",
        )
    if overlap > size // 2:
        raise InvalidArgument(
            f"`{param}.static.chunk_overlap_tokens` must be at most half of max_chunk_size_tokens ({size // 2}), got {overlap}",
            param=f"{param}.static.chunk_overlap_tokens",
        )
    return Strategy(size, overlap)


def _segment_end(text: str, start: int) -> int:
    end = start + SEGMENT_CHARS
    if end >= len(text):
        return len(text)
    cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
    if cut > start:
        return cut
    found = _SPLIT_POINT.search(text, end)
    return found.start() if found else len(text)


def _token_spans(text: str) -> tuple[array[int], array[int]]:
    """Where each token starts and ends in `text`."""
    starts, ends = array("q"), array("q")
    tokenizer = BertPreTokenizer()
    position = 0
    while position < len(text):
        end = _segment_end(text, position)
        for _, (start, stop) in tokenizer.pre_tokenize_str(text[position:end]):
            starts.append(position + start)
            ends.append(position + stop)
        position = end
    return starts, ends


def chunk_count(tokens: int, strategy: Strategy) -> int:
    size, step = strategy.max_chunk_size_tokens, strategy.max_chunk_size_tokens - strategy.chunk_overlap_tokens
    return 0 if tokens == 0 else max(0, -(-(tokens - size) // step)) + 1


def split(text: str, strategy: Strategy, max_chunks: int | None = None) -> list[TextChunk]:
    """Windows of `max_chunk_size_tokens` tokens, each starting `max - overlap` tokens after the
    last; raises TooManyChunks, before cutting any, when there would be more than `max_chunks`."""
    starts, ends = _token_spans(text)
    count = chunk_count(len(starts), strategy)
    if max_chunks is not None and count > max_chunks:
        raise TooManyChunks(count)
    size, step = strategy.max_chunk_size_tokens, strategy.max_chunk_size_tokens - strategy.chunk_overlap_tokens
    chunks = []
    for first in range(0, count * step, step):
        last = min(first + size, len(starts)) - 1
        chunks.append(TextChunk(text[starts[first] : ends[last]], last - first + 1))
    return chunks
