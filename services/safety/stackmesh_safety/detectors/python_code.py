"""Python code in chat messages, and bandit's findings on it.

Code is taken from fenced blocks (```python, or unlabelled blocks that parse as Python),
from a message that is itself a Python program, and from string arguments of tool calls
(a code interpreter's `code`). bandit runs as a library on each snippet's AST; `# nosec`
comments are ignored, since the text being checked is the model's, not a reviewed codebase.

Code nested deeper than Python's parser or bandit's visitor can follow (`x = 1+1+...` a few
thousand times) is reported as unparsed, not scanned and not passed as clean.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import logging
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

import re2

from stackmesh_safety.messages import Message

SEVERITIES = ("LOW", "MEDIUM", "HIGH")
# RE2: matching time linear in the text (backtracking `re` rescanned to the end of the text
# from every "```" of a fence-less run of them).
_FENCE = re2.compile(r"(?s)```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\z)")
_PYTHON_LABELS = {"python", "py", "python3", "py3", "ipython", "pycon"}


@dataclass(frozen=True)
class Snippet:
    message_index: int
    # Where it came from: "fence", "message" or "tool_call:<name>".
    source: str
    code: str


@dataclass(frozen=True)
class Issue:
    message_index: int
    source: str
    test_id: str  # bandit's id, e.g. B602
    test_name: str
    severity: str
    confidence: str
    cwe: int
    line: int
    text: str


class NestedTooDeeply(Exception):
    """The snippet is nested deeper than Python's parser or bandit's visitor can follow."""


def _is_program(code: str) -> bool:
    """Parses as Python and does something: a lone word or literal parses too, but is prose."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    except (RecursionError, MemoryError):
        # Too deep to tell: the scanner reports it as code it could not parse, not as prose.
        return True
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, (ast.Name, ast.Constant))) for node in tree.body)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def snippets(messages: list[Message]) -> tuple[list[Snippet], list[str]]:
    """Python snippets to scan, and the labels of fenced blocks in other languages (unscanned)."""
    found: list[Snippet] = []
    other_languages: list[str] = []
    for index, message in enumerate(messages):
        fences = list(_FENCE.finditer(message.content))
        for fence in fences:
            label, code = fence.group(1).lower(), fence.group(2)
            if label in _PYTHON_LABELS or (not label and _is_program(code)):
                found.append(Snippet(index, "fence", code))
            elif label:
                other_languages.append(label)
        if not fences and _is_program(message.content):
            found.append(Snippet(index, "message", message.content))
        for call in message.tool_calls:
            try:
                arguments = json.loads(call.arguments) if call.arguments else {}
            except json.JSONDecodeError:
                arguments = call.arguments
            found.extend(Snippet(index, f"tool_call:{call.name}", text) for text in _strings(arguments) if _is_program(text))
    return found, sorted(set(other_languages))


class Scanner:
    """bandit's full test set, built once; `scan` is CPU-bound and meant for a worker process."""

    def __init__(self) -> None:
        stevedore = logging.getLogger("stevedore.extension")
        level = stevedore.level
        # Importing bandit loads its report formatters too; the optional SARIF one needs a
        # package we have no use for and would log an error at every start.
        stevedore.setLevel(logging.CRITICAL)
        try:
            with warnings.catch_warnings():
                # bandit still passes stevedore an argument stevedore deprecated.
                warnings.filterwarnings("ignore", message="The verify_requirements argument")
                from bandit.core import config, meta_ast, metrics, node_visitor, test_set
        finally:
            stevedore.setLevel(level)
        self._meta_ast, self._metrics, self._visitor = meta_ast, metrics, node_visitor
        self._tests = test_set.BanditTestSet(config.BanditConfig(), profile={})

    def scan(self, snippet: Snippet) -> list[Issue]:
        data = snippet.code.encode()
        visitor = self._visitor.BanditNodeVisitor(
            "snippet.py", io.BytesIO(data), self._meta_ast.BanditMetaAst(), self._tests, False, {}, self._metrics.Metrics()
        )
        try:
            visitor.process(data)
        except (SyntaxError, ValueError):
            # Only fences labelled python reach here unparsed; one that is not Python has nothing to scan.
            return []
        except (RecursionError, MemoryError):
            # Python's parser reports deep nesting as either, bandit's recursive visitor as the first.
            raise NestedTooDeeply from None
        return [
            Issue(
                snippet.message_index, snippet.source, result.test_id, result.test, result.severity, result.confidence,
                result.cwe.id, result.lineno, result.text,
            )
            for result in visitor.tester.results
        ]  # fmt: skip


@functools.cache
def scanner() -> Scanner:
    """This process's scanner (bandit's test set takes a while to build)."""
    return Scanner()
