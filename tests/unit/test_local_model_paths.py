"""Which files a model registration may make a local provider load: catalog names, names the
config maps, and paths under the provider's model roots — refused alike whether they exist."""

from __future__ import annotations

import pytest

from stackmesh_common.errors import InvalidArgument
from stackmesh_inference.providers.local_models import local_model_path
from stackmesh_common.packaged_models import packaged_gguf


def resolve(name: str, roots: list[str], mapped: dict[str, str] | None = None):
    return local_model_path(
        "llama-cpp", name, mapped=mapped or {}, roots=roots, loadable=lambda p: p.suffix == ".gguf" and p.is_file(), kind=".gguf file"
    )


def refusal(name: str, roots: list[str]) -> str:
    with pytest.raises(InvalidArgument) as caught:
        resolve(name, roots)
    assert caught.value.param == "provider_model_id"
    return str(caught.value).replace(name, "<name>")


def test_catalog_and_mapped_names_resolve_without_roots():
    assert resolve("smollm2-135m-instruct-q4_1", []) == packaged_gguf("smollm2-135m-instruct-q4_1")
    assert str(resolve("mine", [], {"mine": "/models/mine.gguf"})) == "/models/mine.gguf"


def test_a_path_under_a_root_resolves(tmp_path):
    model = tmp_path / "models" / "a.gguf"
    model.parent.mkdir()
    model.write_bytes(b"GGUF")
    assert resolve(str(model), [str(tmp_path / "models")]) == model.resolve()


def test_paths_are_refused_without_roots_whether_they_exist_or_not(tmp_path):
    real = packaged_gguf("smollm2-135m-instruct-q4_1")
    assert real.is_file()
    assert refusal(str(real), []) == refusal(str(tmp_path / "missing.gguf"), [])
    assert "model_roots" in refusal(str(real), [])


def test_escapes_from_a_root_are_refused_like_missing_files(tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    outside = tmp_path / "secret.gguf"
    outside.write_bytes(b"GGUF")
    (root / "link.gguf").symlink_to(outside)
    messages = {
        refusal(str(root / ".." / "secret.gguf"), [str(root)]),
        refusal(str(root / "link.gguf"), [str(root)]),
        refusal(str(root / "missing.gguf"), [str(root)]),
        refusal("relative/a.gguf", [str(root)]),
    }
    assert len(messages) == 1, messages
