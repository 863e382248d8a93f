"""Dataset rows as training examples, rendered with the model's chat template the way
inference renders a conversation (`add_generation_prompt=True`), so a model learns to answer
in the context it is later asked in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from jinja2 import TemplateError

from stackmesh_post_training.training.errors import DataError

ROLES = ("system", "user", "assistant")
IGNORE = -100  # the label of a token the loss leaves out


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]


def _content(row: int, turn: int, content: Any, column: str | None) -> str:
    if isinstance(content, str):
        return content
    # OpenAI's text parts, joined as inference joins them.
    if isinstance(content, list) and all(isinstance(part, dict) and part.get("type") == "text" for part in content):
        return "".join(str(part.get("text", "")) for part in content)
    raise DataError(row, f"message {turn}: `content` must be a string or a list of text parts", column)


def _messages(row: int, value: Any, column: str | None = None) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise DataError(row, "must be a non-empty list of chat messages", column)
    messages = []
    for turn, message in enumerate(value):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise DataError(row, f"message {turn}: must be an object whose `role` is one of {', '.join(ROLES)}", column)
        messages.append({"role": message["role"], "content": _content(row, turn, message.get("content"), column)})
    return messages


def _render(tokenizer: Any, row: int, messages: list[dict[str, str]], *, generation_prompt: bool = False) -> str:
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    except TemplateError as exc:
        raise DataError(row, f"the model's chat template rejects it: {exc}") from None


def _reply_spans(tokenizer: Any, row: int, messages: list[dict[str, str]], text: str) -> list[tuple[int, int]]:
    """Character spans of `text` that the assistant's replies render to, each from after the
    generation prompt to the end of its turn."""
    spans = []
    for turn, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        if turn == 0:
            raise DataError(row, "message 0: a conversation cannot open with an assistant message")
        before = _render(tokenizer, row, messages[:turn], generation_prompt=True)
        through = _render(tokenizer, row, messages[: turn + 1])
        if not (through.startswith(before) and text.startswith(through)):
            raise DataError(row, f"message {turn}: the chat template does not render this conversation turn by turn")
        spans.append((len(before), len(through)))
    if not spans:
        raise DataError(row, "has no assistant message to learn from")
    return spans


def _labels(tokenizer: Any, ids: list[int], offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    labels = [IGNORE] * len(ids)
    for start, end in spans:
        inside = [k for k, (first, _) in enumerate(offsets) if start <= first < end]
        # A reply ends with its end-of-turn token; what the template adds after it (a newline)
        # is not something the model generates.
        ends = [k for k in inside if ids[k] == tokenizer.eos_token_id]
        for k in inside[: inside.index(ends[-1]) + 1] if ends else inside:
            labels[k] = ids[k]
    return labels


def render_sft(tokenizer: Any, rows: list[list[dict[str, Any]]], *, max_seq_len: int, train_on_input: bool) -> list[Example]:
    """One example per conversation: its tokens, truncated to `max_seq_len`, labelled where the
    assistant speaks (everywhere with `train_on_input`)."""
    examples = []
    for row, value in enumerate(rows):
        messages = _messages(row, value)
        text = _render(tokenizer, row, messages)
        spans = _reply_spans(tokenizer, row, messages, text)
        encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = encoding["input_ids"]
        labels = list(ids) if train_on_input else _labels(tokenizer, ids, encoding["offset_mapping"], spans)
        if all(label == IGNORE for label in labels[:max_seq_len]):
            message = f"no assistant token is left within max_seq_len ({max_seq_len}); the conversation takes {len(ids)} tokens"
            raise DataError(row, message)
        examples.append(Example(ids[:max_seq_len], labels[:max_seq_len]))
    return examples


def collate(examples: list[Example], pad_token_id: int) -> dict[str, torch.Tensor]:
    """A batch padded on the right; padding is masked out of attention and loss."""
    width = max(len(example.input_ids) for example in examples)
    input_ids = torch.full((len(examples), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        size = len(example.input_ids)
        input_ids[row, :size] = torch.tensor(example.input_ids)
        labels[row, :size] = torch.tensor(example.labels)
        attention_mask[row, :size] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def _reply(row: int, value: Any, column: str) -> list[dict[str, str]]:
    if not isinstance(value, str) or not value:
        raise DataError(row, "must be a non-empty string", column)
    return [{"role": "assistant", "content": value}]


def render_dpo(tokenizer: Any, rows: list[dict[str, Any]], *, max_seq_len: int) -> list[dict[str, list[dict[str, str]]]]:
    """Preference rows {prompt: str | messages, chosen: str, rejected: str} in trl's
    conversational form ({prompt, chosen, rejected} as message lists)."""
    pairs = []
    for row, value in enumerate(rows):
        if not isinstance(value, dict):
            raise DataError(row, "must be an object with `prompt`, `chosen` and `rejected`")
        prompt = value.get("prompt")
        if isinstance(prompt, str) and prompt:
            messages = [{"role": "user", "content": prompt}]
        elif isinstance(prompt, list):
            messages = _messages(row, prompt, "prompt")
        else:
            raise DataError(row, "must be a non-empty string or a list of chat messages", "prompt")
        chosen, rejected = _reply(row, value.get("chosen"), "chosen"), _reply(row, value.get("rejected"), "rejected")
        # trl drops a pair whose prompt leaves no room for a reply; say so instead.
        size = len(tokenizer(_render(tokenizer, row, messages, generation_prompt=True), add_special_tokens=False)["input_ids"])
        if size >= max_seq_len:
            raise DataError(row, f"takes {size} tokens, leaving none of max_seq_len ({max_seq_len}) for the reply", "prompt")
        pairs.append({"prompt": messages, "chosen": chosen, "rejected": rejected})
    return pairs
