"""Fixtures of the launcher tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.launcher.helpers import install_fake_services


@pytest.fixture()
def fake_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Installs the fake `stackmesh_<name>` services, for the launcher's check and for its children."""
    root = tmp_path / "packages"
    install_fake_services(root)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    return root
