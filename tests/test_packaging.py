"""Packaging: the version lives in ``ramac.version.__version__`` only (re-exported as ``ramac.__version__``); the
installed metadata, ``ramac --version`` and ``CITATION.cff`` agree with it, and the citation names the RAMAC paper."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import pytest
import yaml

import ramac
from ramac.cli import console


@pytest.fixture
def citation(repo_root: str) -> dict:
    with open(os.path.join(repo_root, "CITATION.cff")) as handle:
        return yaml.safe_load(handle)


def test_installed_metadata_has_the_package_version():
    assert importlib.metadata.version("ramac") == ramac.__version__


def test_pyproject_reads_the_version_from_the_package(repo_root: str):
    """One place: pyproject.toml declares the version dynamic and names ``ramac.version.__version__``."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(repo_root, "pyproject.toml"), "rb") as handle:
        pyproject = tomllib.load(handle)
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ramac.version.__version__"}
    assert pyproject["project"]["optional-dependencies"]["wandb"] == ["wandb>=0.16"]
    assert pyproject["project"]["optional-dependencies"]["mlflow"] == ["mlflow>=2.10"]


def test_citation_repeats_the_version_and_cites_the_paper(citation: dict):
    assert str(citation["version"]) == ramac.__version__
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    paper = citation["preferred-citation"]
    assert paper["type"] in ("article", "conference-paper")
    assert paper["title"].startswith("RAMAC: Multimodal Risk-Aware Offline Reinforcement Learning")
    assert [a["family-names"] for a in paper["authors"]] == ["Fukazawa", "Mundada", "Soltani"]
    assert "arXiv:2510.02695" in [identifier["value"] for identifier in paper["identifiers"]]


def test_version_option_prints_the_version(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["ramac", "--version"])
    console()  # returns: exit status 0
    assert capsys.readouterr().out == f"ramac {ramac.__version__}\n"


def test_console_script_version_and_help():
    """The installed ``ramac`` script: ``--version`` exits 0 with ``ramac <version>``; ``--help`` lists it."""
    script = os.path.join(os.path.dirname(sys.executable), "ramac")
    if not os.path.exists(script):
        pytest.skip("no installed ramac console script beside this interpreter")
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (0, f"ramac {ramac.__version__}\n"), done.stderr
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "--version" in done.stdout and "Print version and exit." in done.stdout
