"""vector_io parsing and chunking: each format's text, exact chunk windows, strategy checks, limits."""

from __future__ import annotations

import json
import random

import pytest
from tokenizers.pre_tokenizers import BertPreTokenizer

from stackmesh.vector_io.v1 import vector_store_pb2 as vs_pb
from stackmesh_common.errors import InvalidArgument
from stackmesh_vector_io import chunking
from stackmesh_vector_io.chunking import Strategy, TooManyChunks, auto_strategy, chunk_count, resolve, split
from stackmesh_vector_io.parsing import INVALID, UNSUPPORTED, ParseError, TextExtractor

NO_LIMIT = 1 << 40


def extract_text(data: bytes, name: str, content_type: str, *, piece: int = 1 << 20, max_chars: int = NO_LIMIT) -> str:
    """The text of `data`, fed to the extractor `piece` bytes at a time as ingestion reads it."""
    extractor = TextExtractor(name, content_type, len(data), NO_LIMIT, max_chars)
    for start in range(0, len(data), piece):
        extractor.feed(data[start : start + piece])
    return extractor.finish()


def pdf_with_text(lines: list[str]) -> bytes:
    """A minimal one-page PDF whose content stream shows `lines` (built by offsets, as the format says)."""
    stream = "BT /F1 12 Tf 72 720 Td " + " ".join(f"({line}) Tj 0 -14 Td" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_plain_text_and_code_are_read_as_utf8():
    assert extract_text("héllo wörld".encode(), "notes.txt", "") == "héllo wörld"
    assert "def f" in extract_text(b"def f():\n    return 1\n", "code.py", "")


def test_markdown_keeps_the_words_not_the_markup():
    text = extract_text(b"# Title\n\nSome **bold** and [a link](http://x.y).\n\n```\ncode here\n```\n", "a.md", "")
    assert "Title" in text and "Some bold and a link." in text and "code here" in text
    assert "**" not in text and "http://x.y" not in text and "#" not in text


def test_html_drops_scripts_and_tags():
    html = b"<html><head><style>p{}</style><script>var x = 1;</script></head><body><h1>Head</h1><p>Body text</p></body></html>"
    text = extract_text(html, "page.html", "")
    assert "Head" in text and "Body text" in text
    assert "var x" not in text and "<p>" not in text and "p{}" not in text


def test_json_becomes_path_value_lines():
    data = json.dumps({"name": "stackmesh", "tags": ["a", "b"], "nested": {"n": 1}}).encode()
    assert extract_text(data, "d.json", "").splitlines() == ["name: stackmesh", "tags[0]: a", "tags[1]: b", "nested.n: 1"]


def test_jsonl_records_are_separated():
    text = extract_text(b'{"q": "one"}\n{"q": "two"}\n', "d.jsonl", "")
    assert text == "q: one\n\nq: two"


def test_pdf_text_is_extracted():
    text = extract_text(pdf_with_text(["Retrieval augmented", "generation works"]), "paper.pdf", "")
    assert "Retrieval augmented" in text and "generation works" in text


def test_type_comes_from_content_type_without_an_extension():
    assert "Body" in extract_text(b"<p>Body</p>", "noext", "text/html; charset=utf-8")


@pytest.mark.parametrize(
    "data, name, code, words",
    [
        (b"\x89PNG\r\n", "image.png", UNSUPPORTED, "'.png'"),
        (b"%PDF-1.4 broken", "broken.pdf", INVALID, "PDF could not be read"),
        (b"{not json", "bad.json", INVALID, "not valid JSON"),
        (b"\xff\xfe\x00binary", "data.txt", INVALID, "not UTF-8"),
        (b"   \n ", "empty.txt", INVALID, "no text"),
    ],
)
def test_unreadable_files_raise_parse_errors_with_openai_codes(data, name, code, words):
    with pytest.raises(ParseError) as caught:
        extract_text(data, name, "")
    assert caught.value.code == code and words in caught.value.message


def test_static_windows_overlap_and_are_exact_source_text():
    words = [f"w{i}" for i in range(250)]
    text = "  ".join(words)
    chunks = split(text, Strategy(100, 40))
    assert [c.tokens for c in chunks] == [100, 100, 100, 70]
    for index, chunk in enumerate(chunks):
        assert chunk.text in text
        assert chunk.text.split() == words[index * 60 : index * 60 + 100]


def test_short_text_is_one_chunk_and_empty_text_none():
    assert [c.text for c in split("just a few words.", Strategy(100, 50))] == ["just a few words."]
    assert split("", Strategy(100, 50)) == []


def test_auto_fits_the_embedding_models_input():
    assert auto_strategy(None) == Strategy(800, 400)
    assert auto_strategy(256) == Strategy(192, 96)
    assert resolve(vs_pb.ChunkingStrategy(type="auto"), 512) == Strategy(384, 192)


def test_static_takes_openai_defaults_and_checks_the_overlap():
    """Unset fields are 800/400; an overlap over half the size is refused, even a defaulted one."""
    assert resolve(vs_pb.ChunkingStrategy(type="static"), 256) == Strategy(800, 400)
    explicit = vs_pb.StaticChunkingConfig(max_chunk_size_tokens=300, chunk_overlap_tokens=100)
    assert resolve(vs_pb.ChunkingStrategy(type="static", static=explicit), 256) == Strategy(300, 100)
    defaulted = vs_pb.ChunkingStrategy(type="static", static=vs_pb.StaticChunkingConfig(max_chunk_size_tokens=300))
    with pytest.raises(InvalidArgument) as caught:
        resolve(defaulted, 256)
    assert caught.value.param == "chunking_strategy.static.chunk_overlap_tokens"


@pytest.mark.parametrize(
    "strategy, param",
    [
        (vs_pb.ChunkingStrategy(type="static", static=vs_pb.StaticChunkingConfig(max_chunk_size_tokens=50)), "chunking_strategy.static.max_chunk_size_tokens"),
        (vs_pb.ChunkingStrategy(type="static", static=vs_pb.StaticChunkingConfig(max_chunk_size_tokens=5000)), "chunking_strategy.static.max_chunk_size_tokens"),
        (vs_pb.ChunkingStrategy(type="semantic"), "chunking_strategy.type"),
        (vs_pb.ChunkingStrategy(type="contextual"), "chunking_strategy.contextual.model_id"),
        (
            vs_pb.ChunkingStrategy(type="contextual", contextual=vs_pb.ContextualChunkingConfig(model_id="m")),
            "chunking_strategy.type",
        ),
    ],
)
def test_bad_strategies_name_the_field(strategy, param):
    with pytest.raises(InvalidArgument) as caught:
        resolve(strategy, 256)
    assert caught.value.param == param


# Limits and streaming.


@pytest.mark.parametrize("piece", [1, 2, 5, 4096])
def test_text_is_decoded_as_it_streams_in_whatever_the_piece_size(piece):
    text = "\ufeffgrüße, 日本語 and 🙂 emoji\n" * 20
    assert extract_text(text.encode(), "notes.txt", "", piece=piece) == text.removeprefix("\ufeff")
    broken = "ok ünï".encode() + b"\xff" + b"rest"
    with pytest.raises(ParseError, match=r"byte 8 is not valid"):
        extract_text(broken, "notes.txt", "", piece=piece)


def test_text_over_the_character_limit_fails_while_it_is_read():
    extractor = TextExtractor("big.txt", "", 3000, NO_LIMIT, 1000)
    extractor.feed(b"a" * 1000)
    with pytest.raises(ParseError) as caught:
        extractor.feed(b"a")
    assert caught.value.code == INVALID and "1000 characters" in caught.value.message and "max_text_chars" in caught.value.message


def test_a_file_over_the_byte_limit_is_not_read():
    with pytest.raises(ParseError) as caught:
        TextExtractor("big.pdf", "", 2049, 2048, NO_LIMIT)
    assert caught.value.code == INVALID and "2048 bytes" in caught.value.message and "max_file_bytes" in caught.value.message
    # A file that grew past its recorded size is stopped all the same.
    extractor = TextExtractor("big.pdf", "", 10, 2048, NO_LIMIT)
    extractor.feed(b"x" * 2048)
    with pytest.raises(ParseError, match="max_file_bytes"):
        extractor.feed(b"x")


def test_json_expanding_past_the_limit_fails_without_building_the_text():
    """Each scalar's line repeats its path: 2 bytes of `0,` become a line of ~500 characters."""
    data = json.dumps({"k" * 500: [0] * 1000}).encode()
    assert len(data) < 4000
    with pytest.raises(ParseError, match="max_text_chars"):
        extract_text(data, "wide.json", "", max_chars=100_000)
    with pytest.raises(ParseError, match="max_text_chars"):
        extract_text(data + b"\n" + data, "wide.jsonl", "", max_chars=100_000)


def test_json_nested_too_deeply_is_an_invalid_file():
    with pytest.raises(ParseError) as caught:
        extract_text(b"[" * 100_000 + b"]" * 100_000, "deep.json", "")
    assert caught.value.code == INVALID and "nests too deeply" in caught.value.message


def test_pdf_pages_stop_at_the_character_limit():
    data = pdf_with_text(["word " * 40])
    with pytest.raises(ParseError, match="max_text_chars"):
        extract_text(data, "paper.pdf", "", max_chars=50)


def test_nul_characters_are_dropped_from_the_text():
    """Postgres cannot store NUL; a text file with some must still be searchable."""
    assert extract_text(b"hello\x00 world", "nul.txt", "") == "hello world"


def reference_split(text: str, strategy: Strategy) -> list[tuple[str, int]]:
    """Windows over the whole text's pre-tokenization at once."""
    offsets = [span for _, span in BertPreTokenizer().pre_tokenize_str(text)]
    size, step = strategy.max_chunk_size_tokens, strategy.max_chunk_size_tokens - strategy.chunk_overlap_tokens
    chunks = []
    for start in range(0, len(offsets), step):
        window = offsets[start : start + size]
        chunks.append((text[window[0][0] : window[-1][1]], len(window)))
        if start + size >= len(offsets):
            break
    return chunks


@pytest.mark.parametrize("segment", [5, 64, 1 << 16])
def test_pre_tokenizing_in_segments_cuts_the_same_chunks(monkeypatch, segment):
    monkeypatch.setattr(chunking, "SEGMENT_CHARS", segment)
    rng = random.Random(segment)
    alphabet = "abcXYZ  \n\t.,;!?-()'€éß中文 \u00a0\u3000\x0c"
    for trial in range(100):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 2000)))
        if trial % 10 == 0:
            text = "x" * len(text)  # no place to cut
        strategy = Strategy(rng.choice([3, 7, 100]), 0)
        strategy = Strategy(strategy.max_chunk_size_tokens, rng.randint(0, strategy.max_chunk_size_tokens // 2))
        expected = reference_split(text, strategy)
        assert [(c.text, c.tokens) for c in split(text, strategy)] == expected
        assert chunk_count(len(BertPreTokenizer().pre_tokenize_str(text)), strategy) == len(expected)


def test_more_chunks_than_the_limit_are_refused_before_cutting():
    text = " ".join(f"w{i}" for i in range(1000))
    assert len(split(text, Strategy(100, 0), max_chunks=10)) == 10
    with pytest.raises(TooManyChunks) as caught:
        split(text, Strategy(100, 50), max_chunks=10)
    assert caught.value.count == 19
