"""A checkpoint as a model directory inference loads: LoRA adapters merged into the base,
full fine-tunes as their weights, either with the tokenizer and its chat template."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from peft import PeftModel
from transformers import AutoModelForCausalLM

from stackmesh_post_training.training.models import dense_directory, load_tokenizer


def _model(checkpoint: Path, base: Path, cache_dir: Path) -> Any:
    if (checkpoint / "adapter_config.json").is_file():
        # In the base's own dtype: the merge is exact there, and the directory loads as the base did.
        model = AutoModelForCausalLM.from_pretrained(dense_directory(base, cache_dir), dtype="auto", local_files_only=True)
        return PeftModel.from_pretrained(model, checkpoint).merge_and_unload()
    return AutoModelForCausalLM.from_pretrained(checkpoint, dtype="auto", local_files_only=True)


def _replace(scratch: Path, dest: Path) -> None:
    """`dest` is the old export or the new one, never a mix: an export that died is redone whole."""
    if not dest.exists():
        os.rename(scratch, dest)
        return
    old = dest.with_name(f".{dest.name}.old-{secrets.token_hex(4)}")
    os.rename(dest, old)
    os.rename(scratch, dest)
    shutil.rmtree(old)


def export_servable(checkpoint: Path, base: Path, dest: Path, cache_dir: Path) -> Path:
    """Writes `dest`, a model directory (safetensors, config, tokenizer) made from `checkpoint`
    of a run from `base`; optimizer state stays behind."""
    tokenizer_dir = checkpoint if (checkpoint / "tokenizer_config.json").is_file() else dense_directory(base, cache_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _model(checkpoint, base, cache_dir).save_pretrained(scratch)
        load_tokenizer(tokenizer_dir).save_pretrained(scratch)
        _replace(scratch, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dest
