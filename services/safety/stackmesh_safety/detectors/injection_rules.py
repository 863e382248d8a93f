"""Phrase rules for prompt injection and jailbreaks: the tell-tale wording of known attacks.

They complement embedding similarity where wording is the signal (an override phrase
buried in a long document, fake chat-template markers) and similarity is diluted.
Each rule has a weight: how sure a match alone makes us. Rules run on RE2, whose matching
time is linear in the text: they run on the service's event loop, and with backtracking `re`
40 KB of `![a](http://` took seconds.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import re2

JAILBREAK = "jailbreak"
INJECTION = "prompt_injection"


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    weight: float
    pattern: re2._Regexp


def _rule(name: str, label: str, weight: float, pattern: str) -> Rule:
    return Rule(name, label, weight, re2.compile(f"(?i){pattern}"))


_PRIOR = r"(?:all |any |the |your |my )?(?:previous|prior|above|earlier|preceding|original|initial|system|developer)"
# Not "message": "ignore my previous message" is everyday speech.
_DIRECTIVES = r"(?:instructions?|prompts?|directions?|directives?|rules|guidelines|context|commands?)"

RULES = (
    _rule("override_instructions", INJECTION, 0.85,
          rf"\b(?:ignore|disregard|forget|override|bypass|skip|do not follow|don't follow)\b[^.\n]{{0,20}}?{_PRIOR}\s+{_DIRECTIVES}"),
    _rule("dismiss_user_or_rules", INJECTION, 0.6,
          r"\b(?:ignore|disregard|forget about|do not obey)\s+(?:the user\b|what the (?:developer|user|system) (?:told|said)|"
          r"(?:all |your |any )(?:\w+ )?(?:constraints|guardrails|rules|guidelines|programming|directives)\b)"),
    _rule("supersede_instructions", INJECTION, 0.7,
          r"\b(?:supersedes?|overrides?|replaces?|takes? precedence over|higher priority than)\s+(?:your|the|all|any)\s+"
          r"(?:earlier|previous|prior|system|original|current)?\s*(?:instructions|directives|rules|system prompt|prompt|guardrails)"),
    _rule("reveal_prompt", INJECTION, 0.75,
          r"\b(?:reveal|print|show|repeat|output|display|leak|dump|spell out|tell me|what (?:is|are|was|were))\b[^.\n]{0,30}?"
          r"\b(?:system (?:prompt|message|instructions?)|hidden (?:prompt|instructions?)|initial (?:prompt|instructions?)|"
          r"developer (?:message|prompt)|(?:your|the) instructions you were given|context window)"),
    _rule("new_instructions", INJECTION, 0.45,
          r"\b(?:new|updated|real|important new)\s+(?:system\s+)?(?:instructions?|rules?|prompt)\s*(?::|follow|are\b)"),
    _rule("addressed_to_model", INJECTION, 0.5,
          r"\b(?:note|instruction|attention|message)s? (?:to|for) (?:any |the )?(?:ai|llm|language model|assistant|ai agents?|model)s?\b"
          r"|\b(?:if you are|dear|attention|hey) (?:an? )?(?:ai|llm|language model)\b"),
    _rule("chat_template_markers", INJECTION, 0.6,
          r"<\|im_start\|>|<\|system\|>|\[/?INST\]|<<SYS>>|^\s*#{2,}\s*system\b|\[system\]\(#|"
          r"\b(?:end of (?:user input|document|text)|begin new system prompt)\b"),
    _rule("exfiltration", INJECTION, 0.6,
          r"!\[[^\]]*\]\(https?://[^)]*(?:\?|&)[a-z_]+=\s*\)?|\b(?:exfiltrate|send (?:them|it|everything) to)\b"),
    _rule("persona_override", JAILBREAK, 0.8,
          r"\b(?:you are|you're|act as|pretend to be|roleplay as|become)\b[^.\n]{0,30}?"
          r"\b(?:DAN|do anything now|jailbroken|unfiltered|uncensored|unrestricted|no (?:rules|restrictions|limits|filters))\b"),
    # "Developer mode" alone is a phone setting; it counts when the model is the one switched.
    _rule("mode_switch", JAILBREAK, 0.75,
          r"\b(?:god|sudo|dan|jailbreak|uncensored|unrestricted|evil) mode\b[^.\n]{0,20}?(?:enabled|activated|on\b|permanently)"
          r"|\b(?:enable|enter|switch to|activate)\b[^.\n]{0,10}?\b(?:god|uncensored|unrestricted|jailbreak|dan) mode"
          r"|\b(?:you are (?:now )?in|with|in) developer mode (?:enabled|you|output)|\bdeveloper mode (?:enabled|output)\b"),
    _rule("no_restrictions", JAILBREAK, 0.4,
          r"\b(?:without|no|free of|lifted|bypass|disable[ds]?|turn off|suspend(?:ed)?)\b[^.\n]{0,15}?"
          r"\b(?:any |all |your |the )?(?:content |safety |ethical |moral )?"
          r"(?:restrictions|filters|censorship|guardrails|content polic(?:y|ies)|safety (?:rules|checks|guidelines|filters)|"
          r"ethical (?:guidelines|constraints)|moral (?:limits|guidelines|restrictions))\b"),
    _rule("refusal_suppression", JAILBREAK, 0.4,
          r"\b(?:never|don't|do not|will not|won't) (?:refuse|say (?:\"?i'?m sorry|\"?i can'?t)|mention (?:policies|rules)|"
          r"include any (?:disclaimers|warnings|refusals))|\bstay in character\b"),
)

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def normalize(text: str) -> str:
    """Compatibility forms folded and invisible characters dropped, so look-alike spellings
    and zero-width splitting do not slip past the patterns."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)


def matches(text: str) -> list[Rule]:
    text = normalize(text)
    return [rule for rule in RULES if rule.pattern.search(text)]


@dataclass(frozen=True)
class Assessment:
    score: float
    label: str
    rules: tuple[str, ...]


def combine(similarity_score: float, similarity_label: str, fired: list[Rule]) -> Assessment:
    """Noisy-OR of the similarity score and every fired rule's weight: independent pieces of
    evidence, any of which can carry the verdict. The label is the strongest evidence's."""
    doubt = 1.0 - similarity_score
    for rule in fired:
        doubt *= 1.0 - rule.weight
    strongest = max(fired, key=lambda rule: rule.weight, default=None)
    label = strongest.label if strongest and strongest.weight >= similarity_score else similarity_label
    return Assessment(1.0 - doubt, label, tuple(rule.name for rule in fired))
