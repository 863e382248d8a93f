"""Hostile input through the gateway: size caps, worst-case patterns, deeply nested code."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

MAX_MESSAGE_CHARS = 64 * 1024
MAX_REQUEST_CHARS = 256 * 1024
# 40 KB texts, each with the seconds it may take. The patterns' worst cases as they were (a
# scan from every position to the end of the text: 8-11 s through the gateway), and text that
# is simply costly (thousands of phone-number candidates: a worker's CPU for about a second).
HOSTILE = {
    "pii": [
        ("a." * 20_480, 2.0),  # the email and URL-password patterns
        ("a@b.co " * 5_851, 2.0),  # thousands of findings, once compared pairwise
        ("4111 1111 1111 1111 " * 2_048, 5.0),
    ],
    "code-scanner": [
        ("```" * 13_653, 2.0),  # the code-fence pattern
        ("```\n" * 10_240, 2.0),  # thousands of empty fences, each parsed
    ],
}


def run_shield(http: httpx.Client, shield_id: str, messages: list[dict], **extra) -> httpx.Response:
    return http.post("/v1/safety/run-shield", json={"shield_id": shield_id, "messages": messages, **extra})


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def http(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


def test_hostile_input_is_checked_quickly_and_does_not_stall_the_service(stack, http):
    """While hostile 40 KB inputs run against pii and code-scanner, listing shields answers at once."""
    for shield_id in HOSTILE:
        run_shield(http, shield_id, user("warm up")).raise_for_status()
    for _ in range(3):
        http.get("/v1/shields").raise_for_status()
    stop = threading.Event()

    def keep_checking(shield_id: str) -> list[tuple[float, float]]:
        """(seconds taken, seconds allowed) of each check, every text at least once."""
        texts, runs = HOSTILE[shield_id], []
        with httpx.Client(base_url=stack.gateway_url, timeout=60) as own:
            while not stop.is_set() or len(runs) < len(texts):
                text, allowed = texts[len(runs) % len(texts)]
                started = time.perf_counter()
                response = run_shield(own, shield_id, user(text))
                runs.append((time.perf_counter() - started, allowed))
                assert response.status_code == 200, response.text
        return runs

    with ThreadPoolExecutor(len(HOSTILE)) as pool:
        checks = {shield_id: pool.submit(keep_checking, shield_id) for shield_id in HOSTILE}
        time.sleep(0.2)
        latencies = []
        try:
            for _ in range(10):
                started = time.perf_counter()
                http.get("/v1/shields").raise_for_status()
                latencies.append(time.perf_counter() - started)
                time.sleep(0.1)
        finally:
            stop.set()
        runs = {shield_id: check.result() for shield_id, check in checks.items()}
    print(f"GET /v1/shields ms: {[round(s * 1000, 1) for s in latencies]}")
    print({shield_id: [round(taken, 3) for taken, _ in shield_runs] for shield_id, shield_runs in runs.items()})
    # Generous for two cores shared with other test runs; stalled, a GET took 1.5-13 s.
    assert statistics.median(latencies) < 0.05 and max(latencies) < 0.1, latencies
    assert all(taken < allowed for shield_runs in runs.values() for taken, allowed in shield_runs), runs


def test_a_message_over_the_limit_is_a_400_naming_it(http):
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x" * (MAX_MESSAGE_CHARS + 1)}]
    response = run_shield(http, "pii", messages)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("messages[1].content", "string_above_max_length")
    assert str(MAX_MESSAGE_CHARS) in error["message"]


def test_a_message_at_the_limit_is_checked(http):
    response = run_shield(http, "pii", user("mail a@b.io " + "x" * (MAX_MESSAGE_CHARS - 12)))
    assert response.status_code == 200, response.text
    assert response.json()["violation"]["metadata"]["entities"] == ["email"]


def test_a_request_over_the_total_limit_is_a_400(http):
    messages = user("x" * MAX_MESSAGE_CHARS) * (MAX_REQUEST_CHARS // MAX_MESSAGE_CHARS + 1)
    response = run_shield(http, "code-scanner", messages)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("messages", "context_length_exceeded")
    assert str(MAX_REQUEST_CHARS) in error["message"]


def test_moderation_inputs_share_the_limits(http):
    response = http.post("/v1/moderations", json={"input": ["fine", "x" * (MAX_MESSAGE_CHARS + 1)]})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "input[1]"


@pytest.mark.parametrize(
    "content",
    [
        "```python\nx = " + "1 + " * 5000 + "1\n```",  # parses only past the recursion limit
        "```python\nx = f" + "()" * 2000 + "\n```",  # parses, but is too deep for bandit's visitor
        "x = a" + ".b" * 20_000,  # a whole message that is (too deep) code
    ],
)
def test_code_too_deep_to_parse_is_reported_not_a_500(http, content):
    response = run_shield(http, "code-scanner", [{"role": "assistant", "content": content}])
    assert response.status_code == 200, response.text
    violation = response.json()["violation"]
    assert violation["violation_level"] == "info"
    assert violation["metadata"]["violation_type"] == "unscanned_code"
    assert [s["reason"] for s in violation["metadata"]["unparsed_snippets"]] == ["nested too deeply to parse"]


def test_deep_nesting_the_parser_rejects_is_prose(http):
    for content in ("(" * 5000, "[" * 5000 + "]" * 5000):
        response = run_shield(http, "code-scanner", user(content))
        assert response.status_code == 200 and response.json() == {"violation": None}, response.text


def test_deep_code_next_to_insecure_code_still_reports_the_finding(http):
    content = "```python\nx = " + "1 + " * 5000 + "1\n```\n```python\nimport os\nos.system(cmd)\n```"
    violation = run_shield(http, "code-scanner", [{"role": "assistant", "content": content}]).json()["violation"]
    assert violation["violation_level"] == "error"
    assert [issue["test_id"] for issue in violation["metadata"]["issues"]] == ["B605"]
    assert len(violation["metadata"]["unparsed_snippets"]) == 1


def test_thousands_of_findings_are_counted_and_redacted_but_listed_only_in_part(http):
    text = "a@b.co " * 5_851
    violation = run_shield(http, "pii", user(text)).json()["violation"]
    assert len(violation["metadata"]["findings"]) == 100 and violation["metadata"]["findings_total"] == 5_851
    assert violation["metadata"]["redacted_messages"][0]["content"] == "[EMAIL] " * 5_851
