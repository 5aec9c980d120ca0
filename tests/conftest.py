from __future__ import annotations

import os
import warnings

import pytest
import torch

torch.set_num_threads(1)
warnings.filterwarnings("ignore", message=r".*(does not have many workers|litlogger|LeafSpec).*")


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    """Run every test in its own directory (Lightning and MuJoCo write files into the cwd)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
