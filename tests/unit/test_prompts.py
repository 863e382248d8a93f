"""Prompt templates: declared variables, rendering, and resolving a response's `prompt` reference."""

from __future__ import annotations

import pytest

from stackmesh_common.errors import InvalidArgument
from stackmesh_agents.prompts import StoredPrompt, check_template, render, resolve


class OnePromptStore:
    """Serves one stored version and records what was asked for."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.asked: list[tuple] = []

    async def get(self, prompt_id: str, version: int | None = None, **params: str) -> StoredPrompt:
        self.asked.append((prompt_id, version, params))
        return StoredPrompt(prompt_id, version or 1, self.template, [], is_default=True)


def test_render_substitutes_placeholders_with_or_without_spaces():
    assert render("{{ a }}+{{b}}={{  a}}", {"a": "1", "b": "2"}) == "1+2=1"


def test_render_keeps_values_literal():
    assert render("path: {{ p }}", {"p": r"C:\new\{{ p }}"}) == r"path: C:\new\{{ p }}"


@pytest.mark.parametrize("values", [{}, {"a": "1", "extra": "2"}])
def test_render_refuses_missing_and_unknown_variables(values):
    with pytest.raises(InvalidArgument) as caught:
        render("{{ a }}", values)
    assert caught.value.param == "prompt.variables"


def test_a_template_must_declare_what_it_uses_but_not_use_what_it_declares():
    check_template("{{ a }}", ["a", "unused"])
    with pytest.raises(InvalidArgument) as caught:
        check_template("{{ a }} {{ b }}", ["a"])
    assert caught.value.param == "variables" and "'b'" in caught.value.message


async def test_resolve_renders_the_asked_version_with_strings_and_text_parts():
    store = OnePromptStore("{{ greeting }}, {{ name }}!")
    text = await resolve(store, "pmpt_x", "2", {"greeting": "Hello", "name": {"type": "input_text", "text": "Ada"}})
    assert text == "Hello, Ada!"
    assert store.asked == [("pmpt_x", 2, {"id_param": "prompt.id", "version_param": "prompt.version"})]


async def test_resolve_uses_the_default_version_when_none_is_given():
    store = OnePromptStore("Hi.")
    assert await resolve(store, "pmpt_x", None, {}) == "Hi."
    assert store.asked[0][1] is None


@pytest.mark.parametrize(
    "version, variables, param",
    [
        ("latest", {"a": "1"}, "prompt.version"),
        (None, {"a": {"type": "input_image", "image_url": "https://example.com/a.png"}}, "prompt.variables.a"),
        (None, {"a": 5}, "prompt.variables.a"),
    ],
)
async def test_resolve_refuses_what_it_cannot_render(version, variables, param):
    with pytest.raises(InvalidArgument) as caught:
        await resolve(OnePromptStore("{{ a }}"), "pmpt_x", version, variables)
    assert caught.value.param == param
