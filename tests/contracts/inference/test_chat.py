"""Chat and text completions behave the same on every provider: shape, usage, streaming,
sampling fields, finish reasons, context limits."""

from __future__ import annotations

import httpx
import openai
import pytest

USER = [{"role": "user", "content": "Name three colours."}]
STORY = [{"role": "user", "content": "Tell me a story about a dragon."}]


def test_chat_completion_shape_and_usage(client, served):
    completion = client.chat.completions.create(model=served.model, messages=USER, max_tokens=8, temperature=0)
    choice = completion.choices[0]
    assert completion.object == "chat.completion" and completion.model == served.model
    assert choice.message.role == "assistant" and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    usage = completion.usage
    assert usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 8
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_max_completion_tokens_ends_with_length(client, served):
    completion = client.chat.completions.create(model=served.model, messages=STORY, max_completion_tokens=3, temperature=0)
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 3


def test_stop_strings_cut_the_output(client, served):
    full = client.chat.completions.create(model=served.model, messages=STORY, max_tokens=12, temperature=0).choices[0].message.content
    word = full.split()[2]
    for stop in (word, [word, "zzz-never"]):
        cut = client.chat.completions.create(model=served.model, messages=STORY, max_tokens=12, temperature=0, stop=stop).choices[0]
        assert cut.finish_reason == "stop"
        assert word not in cut.message.content and full.startswith(cut.message.content)


def test_same_seed_same_output(client, served):
    def sample(seed: int) -> str:
        return client.chat.completions.create(model=served.model, messages=STORY, max_tokens=10, temperature=1.0, seed=seed).choices[0].message.content

    assert sample(11) == sample(11)


def test_stream_matches_unary_and_reports_usage_last(client, served):
    unary = client.chat.completions.create(model=served.model, messages=USER, max_tokens=8, temperature=0)
    chunks = list(
        client.chat.completions.create(
            model=served.model, messages=USER, max_tokens=8, temperature=0, stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == unary.choices[0].message.content
    assert len({c.id for c in chunks}) == 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [unary.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == unary.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_n_choices_unary_and_streamed(client, served):
    completion = client.chat.completions.create(model=served.model, messages=USER, max_tokens=4, n=2, seed=3)
    assert [c.index for c in completion.choices] == [0, 1]
    assert 2 <= completion.usage.completion_tokens <= 8  # summed over both choices
    chunks = list(client.chat.completions.create(model=served.model, messages=USER, max_tokens=4, n=2, seed=3, stream=True))
    finished = {c.choices[0].index for c in chunks if c.choices and c.choices[0].finish_reason}
    assert finished == {0, 1}
    streamed = ["".join(c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].index == i) for i in (0, 1)]
    assert streamed == [c.message.content for c in completion.choices]


def test_logprobs_in_openai_shape(client, served):
    completion = client.chat.completions.create(model=served.model, messages=USER, max_tokens=3, temperature=0, logprobs=True, top_logprobs=2)
    entries = completion.choices[0].logprobs.content
    assert len(entries) == completion.usage.completion_tokens
    assert "".join(e.token for e in entries) == completion.choices[0].message.content
    for entry in entries:
        assert entry.logprob <= 0 and len(entry.top_logprobs) == 2
        # Greedy decoding picks the most likely token.
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob, abs=1e-3)


def test_logit_bias_bans_a_token(client, served, openai_server):
    greedy = client.chat.completions.create(model=served.model, messages=USER, max_tokens=1, temperature=0)
    first = greedy.choices[0].message.content
    # Every provider here serves the same GGUF, so llama.cpp's tokenizer gives the id.
    tokens = httpx.post(f"{openai_server.url.removesuffix('/v1')}/tokenize", json={"content": first}, timeout=30).json()["tokens"]
    biased = client.chat.completions.create(
        model=served.model, messages=USER, max_tokens=1, temperature=0, logit_bias={str(tokens[0]): -100}
    )
    assert biased.choices[0].message.content != first


def test_penalties_change_greedy_output(client, served):
    messages = [{"role": "user", "content": "Write the word cat ten times."}]
    plain = client.chat.completions.create(model=served.model, messages=messages, max_tokens=16, temperature=0).choices[0].message.content
    penalised = client.chat.completions.create(
        model=served.model, messages=messages, max_tokens=16, temperature=0, frequency_penalty=2, presence_penalty=2
    ).choices[0].message.content
    assert penalised != plain


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_context_overflow_is_400_naming_messages(client, served, stream):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=served.model, messages=[{"role": "user", "content": "hello " * 9000}], max_tokens=1, stream=stream)
    assert caught.value.param == "messages"
    assert caught.value.code == "context_length_exceeded"


def test_text_completion_with_legacy_logprobs(client, served):
    completion = client.completions.create(model=served.model, prompt="The capital of France is", max_tokens=3, temperature=0, logprobs=2)
    choice = completion.choices[0]
    assert choice.text and choice.finish_reason in ("stop", "length")
    assert len(choice.logprobs.tokens) == len(choice.logprobs.token_logprobs) == completion.usage.completion_tokens
    assert "".join(choice.logprobs.tokens) == choice.text
    assert all(len(top) <= 2 for top in choice.logprobs.top_logprobs)


def test_text_completion_stream(client, served):
    chunks = list(client.completions.create(model=served.model, prompt="Once upon a time", max_tokens=4, temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices).strip()
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]
