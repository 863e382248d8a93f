"""Code scanning: which text counts as Python, and bandit's findings on it."""

from __future__ import annotations

import pytest

from stackmesh_safety import detectors
from stackmesh_safety.detectors.python_code import NestedTooDeeply, Scanner, snippets
from stackmesh_safety.messages import Message, ToolCall
from stackmesh_safety.providers import code_scanner
from stackmesh_safety.providers.base import ProviderContext, Shield
from stackmesh_safety.workers import DetectorWorkers

SHELL = "import subprocess\nsubprocess.call(user_input, shell=True)\n"
SHIELD = Shield("code-scanner", "code-scanner", "code-scanner")


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


def test_fenced_python_and_unlabelled_python_are_scanned_other_languages_are_listed():
    content = f"Try:\n```python\n{SHELL}```\nor\n```\nimport os\nos.system('ls')\n```\nor\n```js\neval(x)\n```"
    found, unscanned = snippets([Message("assistant", content)])
    assert [(s.source, s.code) for s in found] == [("fence", SHELL), ("fence", "import os\nos.system('ls')\n")]
    assert unscanned == ["js"]


def test_a_whole_message_that_is_a_program_is_scanned_but_prose_is_not():
    found, _ = snippets([Message("assistant", "import pickle\npickle.loads(blob)"), Message("user", "hello"), Message("user", "What is 2 + 2?")])
    assert [s.message_index for s in found] == [0]


def test_code_in_tool_call_arguments_is_scanned():
    call = ToolCall("code_interpreter", '{"code": "import os\\nos.system(cmd)", "timeout": 3}')
    found, _ = snippets([Message("assistant", "", (call,))])
    assert [(s.source, s.code) for s in found] == [("tool_call:code_interpreter", "import os\nos.system(cmd)")]


def test_bandit_finds_shell_injection_and_ignores_nosec(scanner):
    found, _ = snippets([Message("assistant", f"```python\n{SHELL.rstrip()}  # nosec\n```")])
    issues = scanner.scan(found[0])
    assert [(i.test_id, i.severity, i.line, i.cwe) for i in issues if i.severity == "HIGH"] == [("B602", "HIGH", 2, 78)]


@pytest.fixture(scope="module")
async def provider():
    workers = DetectorWorkers(1, 30.0, detectors.warm_up)
    workers.start()
    provider = await code_scanner.create(code_scanner.Config(), ProviderContext(None, workers))
    yield provider
    await provider.close()
    await workers.close()


@pytest.fixture
def run(provider):
    async def run(messages: list[Message], params: dict | None = None):
        return await provider.run_shield(SHIELD, messages, params or {})

    return run


async def test_violation_level_follows_the_worst_finding(run):
    result = await run([Message("assistant", f"```python\n{SHELL}```")])
    assert result.violation.level == "error"
    assert result.violation.metadata["issues"][0]["test_id"] == "B602"
    assert result.flagged == {"insecure-code"} and result.scores == {"insecure-code": 1.0}
    medium = await run([Message("assistant", "```python\nimport pickle\npickle.loads(data)\n```")])
    assert medium.violation.level == "warn"


async def test_safe_code_passes_and_low_findings_are_below_the_default_threshold(run):
    assert (await run([Message("assistant", "```python\nprint(sum(range(10)))\n```")])).violation is None
    assert (await run([Message("assistant", "```python\nimport subprocess\n```")])).violation is None
    low = await run([Message("assistant", "```python\nimport subprocess\n```")], {"min_severity": "low"})
    assert low.violation.level == "info"


async def test_unscanned_languages_are_reported_not_passed_as_clean(run):
    result = await run([Message("assistant", "```bash\nrm -rf /\n```")])
    assert result.violation.level == "info"
    assert result.violation.metadata == {
        "violation_type": "unscanned_code", "unscanned_languages": ["bash"], "unparsed_snippets": [], "snippets_scanned": 0,
    }  # fmt: skip
    assert result.flagged == frozenset()


# Deeper than Python's parser can follow; and parseable, but deeper than bandit's visitor can.
TOO_DEEP_TO_PARSE = "x = " + "1 + " * 5000 + "1"
TOO_DEEP_TO_VISIT = "x = f" + "()" * 2000


@pytest.mark.parametrize("code", [TOO_DEEP_TO_PARSE, TOO_DEEP_TO_VISIT, "x = " + "-" * 100_000 + "1"])
def test_code_nested_too_deeply_is_an_error_of_its_own_not_a_crash(scanner, code):
    (snippet,), _ = snippets([Message("assistant", f"```python\n{code}\n```")])
    with pytest.raises(NestedTooDeeply):
        scanner.scan(snippet)


def test_a_message_too_deep_to_parse_counts_as_code_but_unbalanced_brackets_are_prose():
    found, _ = snippets([Message("assistant", TOO_DEEP_TO_PARSE), Message("user", "(" * 5000), Message("user", "[" * 5000 + "]" * 5000)])
    assert [(s.message_index, s.source) for s in found] == [(0, "message")]


async def test_unparsed_code_is_reported_and_the_rest_still_scanned(run):
    alone = await run([Message("assistant", TOO_DEEP_TO_VISIT)])
    assert alone.violation.level == "info"
    unparsed = {"message_index": 0, "source": "message", "reason": "nested too deeply to parse"}
    assert alone.violation.metadata["unparsed_snippets"] == [unparsed]
    assert alone.violation.metadata["snippets_scanned"] == 0
    mixed = await run([Message("assistant", f"```python\n{TOO_DEEP_TO_PARSE}\n```\n```python\n{SHELL}```")])
    assert mixed.violation.level == "error" and mixed.violation.metadata["snippets_scanned"] == 1
    assert [issue["test_id"] for issue in mixed.violation.metadata["issues"]] == ["B602"]
    assert [s["source"] for s in mixed.violation.metadata["unparsed_snippets"]] == ["fence"]
