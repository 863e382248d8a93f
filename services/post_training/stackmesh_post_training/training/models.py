"""Base models for training: a Hugging Face model directory, or a GGUF file dequantised once
into one (under the cache directory) so later runs load it in a second, not half a minute."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

from stackmesh_post_training.training.errors import TrainingError


def _cache_key(path: Path) -> str:
    """A new or rewritten file gets a new entry."""
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}\0{stat.st_mtime_ns}\0{stat.st_size}".encode()).hexdigest()[:16]


def dense_directory(path: Path, cache_dir: Path) -> Path:
    """The model directory `path` is (a directory), or the one its GGUF file dequantises to."""
    if path.is_dir():
        return path
    if path.suffix != ".gguf" or not path.is_file():
        raise TrainingError(f"base model {path} is neither a model directory nor a .gguf file")
    target = cache_dir / f"{path.stem}-{_cache_key(path)}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed into place: a worker racing this one, or killed halfway,
    # never leaves a half-written entry under the final name.
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_dir))
    try:
        extra = {"gguf_file": path.name, "local_files_only": True}
        tokenizer = AutoTokenizer.from_pretrained(path.parent, **extra)
        # Dense fp32 weights: exact, whatever dtype a run trains in, and trainable (the packed
        # GGUF layers transformers may otherwise keep are not).
        model = AutoModelForCausalLM.from_pretrained(
            path.parent, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True), **extra
        )
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        os.rename(scratch, target)
    except OSError:
        if not target.is_dir():  # else another worker renamed its copy into place first
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def load_tokenizer(directory: Path) -> Any:
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(path: Path, dtype: torch.dtype, device: torch.device, cache_dir: Path) -> tuple[Any, Any]:
    """(model, tokenizer) of a model directory or a .gguf file, the model in `dtype` on `device`."""
    try:
        directory = dense_directory(path, cache_dir)
        tokenizer = load_tokenizer(directory)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot load the base model {path}: {exc}") from exc
    return model.to(device), tokenizer
