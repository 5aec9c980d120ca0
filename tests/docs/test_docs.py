"""The documentation's relative links and anchors resolve, and its ``<!-- runnable -->`` shell blocks run (the rules
are in helpers/docs_check.py's docstring); then each check shown failing on synthetic files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.docs_check import (
    OUTPUT_TAIL,
    check_links,
    doc_files,
    failure,
    heading_text,
    run_block,
    runnable_blocks,
    slug,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
BLOCKS = runnable_blocks(doc_files(REPOSITORY_ROOT))


def test_every_relative_link_and_anchor_resolves():
    files = doc_files(REPOSITORY_ROOT)
    assert REPOSITORY_ROOT / "README.md" in files
    problems = check_links(files, REPOSITORY_ROOT)
    assert not problems, f"{len(problems)} broken link(s):\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "block",
    [pytest.param(block, id=block.label(REPOSITORY_ROOT), marks=[pytest.mark.slow] if block.slow else [])
     for block in BLOCKS]
    or [pytest.param(None, marks=pytest.mark.skip(reason="no <!-- runnable --> block in the docs yet"))])
def test_runnable_block(block, tmp_path):
    assert block.error is None, f"{block.label(REPOSITORY_ROOT)}: {block.error}"
    result = run_block(block, REPOSITORY_ROOT, tmp_path)
    assert result.ok, failure(block, result, REPOSITORY_ROOT)


# --- the checks on synthetic files -----------------------------------------------------------------------------------


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_missing_path_and_a_missing_anchor_are_reported_with_file_and_line(tmp_path):
    write(tmp_path, "docs/guide.md", "# Guide\n\n## Set-up\n")
    readme = write(tmp_path, "README.md", "# Top\n\nSee [the guide](docs/guide.md), [set-up](docs/guide.md#set-up).\n"
                                          "A [typo](docs/gide.md), a [bad anchor](docs/guide.md#install),\n"
                                          "a [self link](#top), a [bad self link](#bottom), ![figure](docs/fig.png),\n"
                                          "[a folder](docs/) and [outside](../elsewhere.md).\n")
    assert check_links([readme], tmp_path) == [
        "README.md:4: docs/gide.md -> no such file or directory",
        "README.md:4: docs/guide.md#install -> no heading or <a id> with anchor #install in docs/guide.md",
        "README.md:5: #bottom -> no heading or <a id> with anchor #bottom in README.md",
        "README.md:5: docs/fig.png -> no such file or directory",
        "README.md:6: ../elsewhere.md -> outside the repository",
    ]


def test_duplicate_headings_get_numbered_anchors_and_explicit_anchors_count(tmp_path):
    write(tmp_path, "docs/a.md", "# A\n\n## Setup\n\n### Setup\n\nSetup\n-----\n\n<a id=\"custom\"></a>\n")
    page = write(tmp_path, "docs/b.md", "[1](a.md#setup) [2](a.md#setup-1) [3](a.md#setup-2) [4](a.md#custom)\n"
                                        "[5](a.md#setup-3)\n")
    assert check_links([page], tmp_path) == [
        "docs/b.md:2: a.md#setup-3 -> no heading or <a id> with anchor #setup-3 in docs/a.md"]


def test_links_in_code_comments_and_external_links_are_ignored(tmp_path):
    page = write(tmp_path, "README.md", "# Title\n\n```markdown\n[in a fence](missing.md)\n```\n\n"
                                        "~~~~\n```\n[in a tilde fence](missing.md)\n```\n~~~~\n\n"
                                        "Inline `[code](missing.md)`, <!-- [comment](missing.md) -->\n"
                                        "[web](https://example.org/x.md) [mail](mailto:a@b.c) [broken](missing.md)\n")
    assert check_links([page], tmp_path) == ["README.md:14: missing.md -> no such file or directory"]


@pytest.mark.parametrize(("markdown", "anchor"), [
    ("Quick start", "quick-start"),
    ("What a run costs", "what-a-run-costs"),
    ("`ramac fit`: train one run", "ramac-fit-train-one-run"),
    ("RADAC vs. CVaR₀.₁ (hopper)", "radac-vs-cvar-hopper"),
    ("Foo & Bar", "foo--bar"),
    ("snake_case and `__init__`", "snake_case-and-__init__"),
    ("_emphasis_ and [a link](x.md)", "emphasis-and-a-link"),
    ("Überblick: Größe", "überblick-größe"),
])
def test_heading_slugs_follow_github(markdown, anchor):
    assert slug(heading_text(markdown)) == anchor


def test_a_failing_runnable_block_is_reported_and_a_passing_one_passes(tmp_path):
    page = write(tmp_path, "docs/run.md", "# Run\n\n<!-- runnable -->\n```bash\necho hello > \"$RAMAC_DOCS_TMP/out\"\n"
                                          "test \"$OMP_NUM_THREADS\" = 1\n```\n\n<!-- runnable timeout=5 -->\n```sh\n"
                                          "echo about to fail\nfalse\necho never\n```\n\n```bash\nexit 1\n```\n")
    good, bad = runnable_blocks([page])
    assert (good.line, good.timeout, bad.line, bad.timeout) == (4, 300, 10, 5)
    out = tmp_path / "out"
    out.mkdir()
    assert run_block(good, tmp_path, out).ok
    assert (out / "out").read_text() == "hello\n"
    result = run_block(bad, tmp_path, out)
    assert not result.ok and result.returncode == 1
    message = failure(bad, result, tmp_path)
    assert message.startswith("docs/run.md:10: runnable block exited 1")
    assert "about to fail" in message and "never" not in message


def test_runnable_output_is_cut_to_its_tail_and_a_timeout_fails(tmp_path):
    page = write(tmp_path, "a.md", "<!-- runnable timeout=1 -->\n```bash\nprintf 'x%.0s' $(seq 5000); echo END; "
                                   "sleep 30\n```\n")
    (block,) = runnable_blocks([page])
    result = run_block(block, tmp_path, tmp_path)
    assert result.returncode is None
    message = failure(block, result, tmp_path)
    assert "runnable block timed out" in message and "END" in message and "x" * (OUTPUT_TAIL + 1) not in message


def test_a_malformed_marker_is_an_error_not_a_silently_skipped_block(tmp_path):
    page = write(tmp_path, "a.md", "<!-- runnable timout=5 -->\n```bash\ntrue\n```\n\n<!-- runnable -->\n\n```bash\n"
                                   "true\n```\n\n<!-- runnable slow -->\n```python\nprint(1)\n```\n")
    typo, detached, python = runnable_blocks([page])
    assert "unknown runnable option 'timout=5'" in typo.error
    assert detached.line == 6 and "not directly followed by a fenced block" in detached.error
    assert python.slow and "runnable block in 'python'" in python.error


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_link_to_a_git_ignored_file_is_reported(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write(tmp_path, ".gitignore", "runs/\n*.log\n")
    write(tmp_path, "runs/demo/report.md", "# Report\n")
    write(tmp_path, "notes.log", "")
    write(tmp_path, "kept.md", "# Kept\n")
    page = write(tmp_path, "README.md", "[report](runs/demo/report.md) [log](notes.log) [kept](kept.md#kept)\n")
    assert check_links([page], tmp_path) == ["README.md:1: runs/demo/report.md -> ignored by git (never on GitHub)",
                                             "README.md:1: notes.log -> ignored by git (never on GitHub)"]
