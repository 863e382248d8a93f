"""Personal data and secrets in text: emails, phone numbers, payment cards, API keys.

Phone numbers come from `phonenumbers` (libphonenumber's metadata: real numbering plans,
not a digit-count guess). Cards must pass the Luhn checksum and carry a known issuer
prefix. Secrets are the documented token formats of common providers plus credentials
assigned to a secret-looking name.

The text is untrusted and up to a message long, so the open-ended patterns run on RE2,
whose matching time is linear in the text; backtracking `re` took seconds on 40 KB crafted
to restart a scan at every position (`a.a.a...`, `sk-sk-sk-...`). Only patterns that need
look-around or back-references stay on `re`, and each is bounded to a few dozen characters
per position or runs on one short finding.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterable

import phonenumbers
import re2

ENTITIES = ("email", "phone", "credit_card", "secret")

_EMAIL = re2.compile(r"\b[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b")
# 13-19 digits, optionally grouped by single spaces or dashes (bounded: at most 37 characters per start).
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# Issuer prefixes: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro.
_CARD_ISSUER = re.compile(r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6011|64[4-9]|65|35(?:2[89]|[3-8]\d)|30[0-5]|3[689]|62|5[06-9]|6\d")

# (kind, pattern): provider token formats, each anchored on its documented prefix.
_TOKENS = [
    ("private_key", r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z]+ )*PRIVATE KEY-----|\z)"),
    ("aws_access_key_id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"),
    ("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    ("anthropic_api_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    ("openai_api_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    ("stripe_key", r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b"),
    ("slack_token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}\b"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
]
_TOKEN_PATTERNS = [(kind, re2.compile(pattern)) for kind, pattern in _TOKENS]
# A credential assigned to a secret-looking name: `password = "..."`, `API_KEY: ...`.
_ASSIGNED = re2.compile(
    r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token|access[_-]?token|client[_-]?secret|token)\b"
    r"[\"']?\s*[:=]\s*[\"']?(?P<value>[^\s\"',;)]{6,})"
)
# A password inside a URL: scheme://user:password@host.
_URL_PASSWORD = re2.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:(?P<value>[^\s@/]+)@")
# Values that document a secret rather than being one (run on one finding's value).
_PLACEHOLDER = re.compile(r"(?i)^[<{$%]|your|example|placeholder|redacted|changeme|xxxx|\*\*\*|\.\.\.|^(.)\1*$")

# Where spans overlap, the more specific finding wins.
_PRIORITY = {"secret": 0, "credit_card": 1, "email": 2, "phone": 3}


@dataclass(frozen=True)
class Finding:
    entity: str  # one of ENTITIES
    kind: str  # e.g. "github_token", "visa"; the entity itself when it has no sub-kinds
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_kind(digits: str) -> str:
    if digits[0] == "4":
        return "visa"
    if digits[:2] in ("34", "37"):
        return "amex"
    if "51" <= digits[:2] <= "55" or "2221" <= digits[:4] <= "2720":
        return "mastercard"
    if digits[:4] == "6011" or digits[:2] == "65" or "644" <= digits[:3] <= "649":
        return "discover"
    return "card"


def _cards(text: str) -> Iterable[Finding]:
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _CARD_ISSUER.match(digits) and luhn_valid(digits):
            yield Finding("credit_card", _card_kind(digits), match.start(), match.end())


def _phones(text: str, region: str) -> Iterable[Finding]:
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        yield Finding("phone", "phone", match.start, match.end)


def _secrets(text: str) -> Iterable[Finding]:
    for kind, pattern in _TOKEN_PATTERNS:
        for match in pattern.finditer(text):
            yield Finding("secret", kind, match.start(), match.end())
    for kind, pattern in (("assigned_credential", _ASSIGNED), ("url_password", _URL_PASSWORD)):
        # RE2's match takes group numbers only in start() and end().
        value = pattern.groupindex["value"]
        for match in pattern.finditer(text):
            if not _PLACEHOLDER.search(match.group(value)):
                yield Finding("secret", kind, match.start(value), match.end(value))


def find(text: str, entities: Iterable[str] = ENTITIES, region: str = "US") -> list[Finding]:
    """Non-overlapping findings in text order."""
    wanted = set(entities)
    candidates: list[Finding] = []
    if "secret" in wanted:
        candidates += _secrets(text)
    if "credit_card" in wanted:
        candidates += _cards(text)
    if "email" in wanted:
        candidates += (Finding("email", "email", m.start(), m.end()) for m in _EMAIL.finditer(text))
    if "phone" in wanted:
        candidates += _phones(text, region)
    kept: list[Finding] = []  # in text order
    for finding in sorted(candidates, key=lambda f: (_PRIORITY[f.entity], f.start, -f.end)):
        # Kept findings do not overlap one another, so only the two around where this one
        # would go can overlap it (comparing with every kept one was quadratic in findings).
        at = bisect.bisect_left(kept, finding.start, key=lambda f: f.start)
        if (at == 0 or kept[at - 1].end <= finding.start) and (at == len(kept) or finding.end <= kept[at].start):
            kept.insert(at, finding)
    return kept


def redact(text: str, findings: Iterable[Finding]) -> str:
    """Each finding replaced by its entity in brackets, e.g. `[EMAIL]`."""
    out, last = [], 0
    for finding in sorted(findings, key=lambda f: f.start):
        out += [text[last : finding.start], f"[{finding.entity.upper()}]"]
        last = finding.end
    out.append(text[last:])
    return "".join(out)


def masked(text: str, finding: Finding) -> str:
    """Enough of a finding to recognise it without disclosing it."""
    value = text[finding.start : finding.end]
    if finding.entity == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if finding.entity in ("credit_card", "phone"):
        digits = re.sub(r"\D", "", value)
        return f"***{digits[-4:] if finding.entity == 'credit_card' else digits[-2:]}"
    return f"{value[:4]}***" if len(value) > 12 else "***"
