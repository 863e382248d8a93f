"""PII detection: Luhn, each entity, overlaps, masking and redaction."""

from __future__ import annotations

import pytest

from stackmesh_safety.detectors import pii_patterns as pii


@pytest.mark.parametrize(
    "number, valid",
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True), ("79927398710", False),
     ("378282246310005", True), ("5555555555554444", True), ("0", False), ("", False), ("4111-1111", False)],
)  # fmt: skip
def test_luhn(number, valid):
    assert pii.luhn_valid(number) is valid


def kinds(text: str, **kwargs) -> list[tuple[str, str, str]]:
    return [(f.entity, f.kind, text[f.start : f.end]) for f in pii.find(text, **kwargs)]


def test_emails():
    assert kinds("write to jane.doe+news@mail.example.co.uk today") == [("email", "email", "jane.doe+news@mail.example.co.uk")]
    assert kinds("not an email: user@localhost or @handle") == []


@pytest.mark.parametrize("phone", ["(415) 555-2671", "415-555-2671", "+1 202 555 0143", "+44 20 7946 0958", "+33 6 12 34 56 78"])
def test_phone_numbers(phone):
    assert kinds(f"call {phone} now") == [("phone", "phone", phone)]


@pytest.mark.parametrize("text", ["version 3.11.4", "on 2024-05-06 at 10:30", "order 12345678", "ip 192.168.1.100"])
def test_numbers_that_are_not_phones(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "card, kind",
    [("4111 1111 1111 1111", "visa"), ("4111-1111-1111-1111", "visa"), ("5555555555554444", "mastercard"),
     ("378282246310005", "amex"), ("6011111111111117", "discover")],
)  # fmt: skip
def test_cards_pass_luhn_and_carry_an_issuer_prefix(card, kind):
    assert kinds(f"card {card}.") == [("credit_card", kind, card)]


def test_digit_runs_that_fail_luhn_or_have_no_issuer_are_not_cards():
    assert [f.entity for f in pii.find("card 4111 1111 1111 1112")] != ["credit_card"]
    # Passes Luhn, but no card network issues numbers starting with 1.
    assert pii.luhn_valid("1234567812345670")
    assert kinds("tracking 1234567812345670") == []


@pytest.mark.parametrize(
    "secret, kind",
    [("AKIAIOSFODNN7EXAMPLE", "aws_access_key_id"), ("ghp_" + "a1B2" * 9, "github_token"),
     ("sk-proj-" + "Ab3" * 10, "openai_api_key"), ("sk-ant-api03-" + "x9Y" * 10, "anthropic_api_key"),
     ("xoxb-1234567890-abcdefghij", "slack_token"), ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe_key"),
     ("AIza" + "SyD" * 11 + "ab", "google_api_key"), ("hf_" + "Q" * 34, "huggingface_token"),
     ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt")],
)  # fmt: skip
def test_provider_token_formats(secret, kind):
    assert kinds(f"token: {secret} ok", entities=["secret"])[0][:2] == ("secret", kind)


def test_private_key_block_is_one_secret():
    text = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----\nthanks"
    (finding,) = pii.find(text)
    assert finding.kind == "private_key" and text[finding.start : finding.end].endswith("PRIVATE KEY-----")


def test_assigned_credentials_but_not_placeholders():
    assert kinds('password = "hunter2x"') == [("secret", "assigned_credential", "hunter2x")]
    assert kinds("DB_URL=postgres://app:s3cr3tpw@db:5432/x") == [("secret", "url_password", "s3cr3tpw")]
    for placeholder in ['password = "<your-password>"', "api_key: ${API_KEY}", "token = xxxxxxxx", "password: ********"]:
        assert kinds(placeholder) == [], placeholder


def test_entities_filter_and_overlaps_keep_the_specific_finding():
    text = "mail a@b.io, card 4111111111111111"
    assert [f.entity for f in pii.find(text, entities=["email"])] == ["email"]
    # The card's digits are never also reported as a phone number.
    assert [f.entity for f in pii.find(text)] == ["email", "credit_card"]


def test_redaction_and_masking_never_repeat_the_value():
    text = "Reach jane@example.com or (415) 555-2671, card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE."
    findings = pii.find(text)
    assert pii.redact(text, findings) == "Reach [EMAIL] or [PHONE], card [CREDIT_CARD], key [SECRET]."
    assert [pii.masked(text, f) for f in findings] == ["j***@example.com", "***71", "***1111", "AKIA***"]
