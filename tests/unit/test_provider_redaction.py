"""/v1/providers shows provider configs with credentials masked at any depth, and only them."""

from __future__ import annotations

from stackmesh_common.inspect import MASK, redacted


def test_credentials_are_masked_at_any_depth_and_sampling_limits_are_not():
    config = {
        "api_key": "sk-live",
        "apiKey": "sk-camel",
        "max_tokens": 512,
        "tokenizer": "gpt2",
        "servers": [{"url": "http://x", "access_token": "t0ken"}],
        "auth": {"client_secret": "s3cret", "timeout_s": 5},
    }
    shown = redacted(config)
    assert shown["api_key"] == shown["apiKey"] == MASK
    assert (shown["max_tokens"], shown["tokenizer"]) == (512, "gpt2")
    assert shown["servers"] == [{"url": "http://x", "access_token": MASK}]
    assert shown["auth"] == {"client_secret": MASK, "timeout_s": 5}


def test_passwords_inside_urls_and_connection_strings_are_masked():
    shown = redacted({"url": "postgresql://app:pa55@db:5432/stack", "dsn": "host=db user=app password=pa55 dbname=x", "base_url": "http://vllm:8000/v1"})
    assert shown["url"] == f"postgresql://app:{MASK}@db:5432/stack"
    assert shown["dsn"] == f"host=db user=app password={MASK} dbname=x"
    assert shown["base_url"] == "http://vllm:8000/v1"
    assert "pa55" not in str(shown)
