"""Llama Guard 3: its prompt, its S1-S14 hazard taxonomy, parsing its verdict, and mapping
the violated categories to OpenAI moderation categories.

The prompt is Meta's published Llama Guard 3 format, sent as one user message: the model's
chat template adds the special tokens around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from stackmesh_safety.messages import Message

# MLCommons hazard taxonomy, as Llama Guard 3 was trained on it.
CATEGORIES = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex Crimes",
    "S4": "Child Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}

# Llama Guard code -> the moderation categories it stands for. OpenAI's names where one fits;
# hazards OpenAI's moderation has no category for keep a name of their own, so a flagged
# result always names why.
MODERATION_CATEGORIES = {
    "S1": ("violence", "illicit/violent"),
    "S2": ("illicit",),
    "S3": ("sexual", "illicit/violent"),
    "S4": ("sexual/minors",),
    "S5": ("harassment",),
    "S6": ("specialized-advice",),
    "S7": ("privacy",),
    "S8": ("intellectual-property",),
    "S9": ("illicit/violent", "violence"),
    "S10": ("hate",),
    "S11": ("self-harm",),
    "S12": ("sexual",),
    "S13": ("elections",),
    "S14": ("code-interpreter-abuse",),
}
REPORTED_CATEGORIES = tuple(dict.fromkeys(c for cats in MODERATION_CATEGORIES.values() for c in cats))

# Roles of the conversation Llama Guard judges; system and developer messages are the
# application's instructions, not conversation turns.
_ROLE_LABELS = {"user": "User", "tool": "User", "assistant": "Agent"}
_CODE = re.compile(r"S(?:[1-9]|1[0-4])")


class GuardOutputError(ValueError):
    """The guard model answered something that is not a Llama Guard verdict."""


@dataclass(frozen=True)
class Verdict:
    safe: bool
    # Violated category codes, in the order the model gave them.
    codes: tuple[str, ...] = ()


def conversation(messages: Sequence[Message]) -> list[tuple[str, str]]:
    """(label, text) turns Llama Guard sees: User and Agent, in order."""
    return [(_ROLE_LABELS[m.role], m.text) for m in messages if m.role in _ROLE_LABELS]


def build_prompt(turns: list[tuple[str, str]], excluded: Sequence[str] = ()) -> str:
    """The Llama Guard 3 task prompt judging the last turn; `excluded` codes are left out of
    the policy (the others keep their codes, which the model was trained on)."""
    if not turns:
        raise ValueError("Llama Guard needs at least one user, tool or assistant message")
    agent_type = turns[-1][0]
    categories = "\n".join(f"{code}: {name}." for code, name in CATEGORIES.items() if code not in excluded)
    dialogue = "\n\n".join(f"{label}: {text}" for label, text in turns)
    return (
        f"Task: Check if there is unsafe content in '{agent_type}' messages in conversations according our safety policy "
        "with the below categories.\n\n"
        f"<BEGIN UNSAFE CONTENT CATEGORIES>\n{categories}\n<END UNSAFE CONTENT CATEGORIES>\n\n"
        f"<BEGIN CONVERSATION>\n\n{dialogue}\n\n<END CONVERSATION>\n\n"
        f"Provide your safety assessment for ONLY THE LAST {agent_type} message in the above conversation:\n"
        " - First line must read 'safe' or 'unsafe'.\n"
        " - If unsafe, a second line must include a comma-separated list of violated categories."
    )


# The verdict grammar: `safe`, or `unsafe` and a line of category codes.
VERDICT_REGEX = r"safe|unsafe\nS(1[0-4]|[1-9])(,S(1[0-4]|[1-9]))*"


def parse_verdict(output: str) -> Verdict:
    """`safe`, or `unsafe` then a line of comma-separated codes; anything else raises
    GuardOutputError, so a guard that misbehaves never reads as a pass."""
    lines = [line.strip() for line in output.strip().splitlines()]
    if lines == ["safe"]:
        return Verdict(safe=True)
    if len(lines) == 2 and lines[0] == "unsafe":
        codes = tuple(code.strip() for code in lines[1].split(","))
        if codes and all(_CODE.fullmatch(code) for code in codes):
            return Verdict(safe=False, codes=tuple(dict.fromkeys(codes)))
    raise GuardOutputError(f"not a Llama Guard verdict: {output[:200]!r}")


def moderation_categories(codes: Sequence[str]) -> frozenset[str]:
    return frozenset(category for code in codes for category in MODERATION_CATEGORIES[code])
