"""Checks of the Markdown documentation (README.md, BENCHMARKS.md, CHANGELOG.md and docs/**/*.md), used by
tests/docs/test_docs.py.

Links. Every relative link ``[text](path)``, ``[text](path#anchor)``, same-file ``[text](#anchor)``, image
``![alt](path)``, reference definition ``[label]: path`` and HTML ``<a href>``/``<img src>`` must resolve: the path
(relative to the file; a leading ``/`` means the repository root) exists, stays inside the repository and is not
ignored by git (an ignored file is never on GitHub), and an anchor into a Markdown file names one of its headings under
GitHub's slug rules (:func:`slug`: lowercase; every character that is not a letter, a mark, a decimal digit, an
underscore, a hyphen or a space removed, so ``CVaR₀.₁`` gives ``cvar``; each space a hyphen; the second heading with the
same slug gets ``-1``, the third ``-2``) or an explicit ``<a id="...">``/``<a name="...">``. Anchors into other files
(``x.py#L10``) are not checked. External links (any ``scheme:``, e.g. ``http(s)://``, ``mailto:``) and links inside
fenced code blocks, inline code and HTML comments are skipped. Indented (4-space) code blocks are not recognised:
use fences.

Runnable blocks. A fenced shell block whose opening fence line is immediately preceded by the line
``<!-- runnable -->`` is executed by the tests::

    <!-- runnable -->
    ```bash
    ramac fit --config conf/bandit.yaml --trainer.max_steps 10 --trainer.default_root_dir "$RAMAC_DOCS_TMP/run"
    ```

It runs with ``bash -euo pipefail`` in the repository root, with ``.venv/bin`` first on ``PATH``, ``OMP_NUM_THREADS=1``
and ``RAMAC_DOCS_TMP`` set to a fresh, empty temporary directory. A block must write all of its outputs under
``"$RAMAC_DOCS_TMP"`` (e.g. ``--trainer.default_root_dir "$RAMAC_DOCS_TMP/run"``, ``cd "$RAMAC_DOCS_TMP"``), never into
the repository. Options, space-separated inside the comment: ``timeout=SECONDS`` (default
:data:`DEFAULT_TIMEOUT`) and ``slow`` (the test is marked ``slow``, so ``make test`` leaves it to ``make test-slow``),
e.g. ``<!-- runnable timeout=120 slow -->``. The block's language must be one of :data:`SHELL_LANGUAGES` (or none);
a marker that is not directly followed by a fence, or that has an unknown option, makes the block's test fail.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

DOC_FILES = ("README.md", "BENCHMARKS.md", "CHANGELOG.md")
DOC_DIRECTORY = "docs"
DEFAULT_TIMEOUT = 300
SHELL_LANGUAGES = frozenset({"", "bash", "sh", "shell"})
OUTPUT_TAIL = 2000

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_NOT_A_PARAGRAPH = re.compile(r"^\s*(?:[#>|]|[-*+][ \t]|\d+[.)][ \t]|$)")
_INLINE_LINK = re.compile(
    r"\]\(\s*(<[^<>\n]*>|(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[(?!\^)[^\]]+\]:\s*(<[^<>\n]*>|\S+)")
_HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\s(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
_HTML_ANCHOR = re.compile(r"<a\b[^>]*?\s(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_SCHEME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")
_MARKER = re.compile(r"^\s*<!--\s*runnable\b(.*?)-->\s*$")
_BACKTICKS = re.compile(r"`+")
_MARKDOWN_SUFFIXES = (".md", ".markdown")


def doc_files(root: str | os.PathLike) -> list[Path]:
    """The documentation files under ``root`` that exist: :data:`DOC_FILES` and ``docs/**/*.md``, sorted."""
    root = Path(root)
    files = [root / name for name in DOC_FILES if (root / name).is_file()]
    return files + sorted((root / DOC_DIRECTORY).rglob("*.md"))


def relative(path: Path, root: str | os.PathLike) -> str:
    """``path`` relative to ``root`` when it is inside it, else as given (for messages and test ids)."""
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


# --- scanning ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fence:
    """A fenced code block: the line of its opening fence (1-based), its language and its text."""

    line: int
    language: str
    code: str


@dataclass
class Scan:
    """One Markdown file split into prose and fences: ``prose[i]`` is line ``i + 1`` with HTML comments blanked
    (``None`` inside a fence, fence lines included); ``raw`` holds the lines as written."""

    raw: list[str]
    prose: list[str | None]
    fences: list[Fence] = field(default_factory=list)


def scan(text: str) -> Scan:
    """Split ``text`` into prose lines and fenced blocks (CommonMark fences: a closing fence uses the opening
    character at least as many times; an unclosed fence runs to the end of the file)."""
    raw = text.splitlines()
    prose: list[str | None] = []
    fences: list[Fence] = []
    opening: tuple[int, str, str] | None = None  # line, fence characters, language
    body: list[str] = []
    in_comment = False
    for number, line in enumerate(raw, start=1):
        if opening is not None:
            prose.append(None)
            match = _FENCE.match(line)
            if (match and match.group(2)[0] == opening[1][0] and len(match.group(2)) >= len(opening[1])
                    and not match.group(3).strip()):
                fences.append(Fence(opening[0], opening[2], "\n".join(body) + "\n" if body else ""))
                opening, body = None, []
            else:
                body.append(line)
            continue
        match = None if in_comment else _FENCE.match(line)
        if match and not (match.group(2)[0] == "`" and "`" in match.group(3)):
            prose.append(None)
            opening = (number, match.group(2), match.group(3).strip().split(" ")[0].lower())
            continue
        kept, in_comment = _blank_comments(line, in_comment)
        prose.append(kept)
    if opening is not None:
        fences.append(Fence(opening[0], opening[2], "\n".join(body) + "\n" if body else ""))
    return Scan(raw, prose, fences)


def _blank_comments(line: str, in_comment: bool) -> tuple[str, bool]:
    """``line`` with the parts inside HTML comments replaced by spaces, and whether a comment is still open."""
    out, position = [], 0
    while position < len(line):
        if in_comment:
            end = line.find("-->", position)
            stop = len(line) if end < 0 else end + 3
            out.append(" " * (stop - position))
            position, in_comment = stop, end < 0
        else:
            start = line.find("<!--", position)
            stop = len(line) if start < 0 else start
            out.append(line[position:stop])
            position, in_comment = stop, start >= 0
    return "".join(out), in_comment


def _code_spans(line: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` character ranges of the inline code spans of ``line``, backticks included."""
    spans, runs = [], list(_BACKTICKS.finditer(line))
    index = 0
    while index < len(runs):
        opener = runs[index]
        closer = next((j for j in range(index + 1, len(runs)) if len(runs[j].group()) == len(opener.group())), None)
        if closer is None:
            index += 1
            continue
        spans.append((opener.start(), runs[closer].end()))
        index = closer + 1
    return spans


def _blank_code(line: str) -> str:
    """``line`` with its inline code spans replaced by spaces (positions kept)."""
    for start, end in _code_spans(line):
        line = line[:start] + " " * (end - start) + line[end:]
    return line


# --- headings and anchors ------------------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text (without the duplicate suffix): lowercase, every character that is not a
    letter, mark, decimal digit, letter number, connector (``_``), hyphen or space removed, each space a hyphen."""
    kept = (c for c in heading.strip().lower()
            if c in "- " or unicodedata.category(c)[0] in "LM" or unicodedata.category(c) in ("Nd", "Nl", "Pc"))
    return "".join(kept).replace(" ", "-")


def heading_text(markdown: str) -> str:
    """The text GitHub renders for a heading's Markdown: code spans keep their content, links their text, images,
    HTML tags, emphasis markers and backslash escapes go, entities are decoded."""
    parts, position = [], 0
    for start, end in [*_code_spans(markdown), (len(markdown), len(markdown))]:
        text = markdown[position:start]
        text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\[[^\]]*\]", lambda m: m.group(1) or m.group(2) or "", text)
        text = re.sub(r"<[^>]+>", "", text)
        text = re.sub(r"(?<![\w\\])(_{1,3})(?=\S)(.+?)(?<=\S)\1(?!\w)", r"\2", text)
        text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
        parts.append(html.unescape(text))
        code = markdown[start:end]
        ticks = len(code) - len(code.lstrip("`"))
        inner = code[ticks:len(code) - ticks]
        parts.append(inner[1:-1] if len(inner) > 1 and inner[0] == inner[-1] == " " and inner.strip() else inner)
        position = end
    return "".join(parts)


def headings(source: Scan) -> list[tuple[int, str]]:
    """The ``(line, Markdown text)`` of every ATX (``# x``) and setext (``x`` over ``===``/``---``) heading."""
    found = []
    for index, line in enumerate(source.prose):
        if line is None:
            continue
        match = _ATX.match(line)
        if match:
            found.append((index + 1, match.group(2) or ""))
            continue
        previous = source.prose[index - 1] if index else None
        if _SETEXT.match(line) and previous is not None and not _NOT_A_PARAGRAPH.match(previous) \
                and not (previous.lstrip().startswith("|") or _SETEXT.match(previous)):
            found.append((index, previous.strip()))
    return found


def anchors(source: Scan) -> set[str]:
    """Every anchor of a Markdown file: its headings' slugs, duplicates numbered as GitHub does (github-slugger:
    ``x``, ``x-1``, ``x-2``, skipping any already taken), and its explicit ``<a id>``/``<a name>`` anchors."""
    occurrences: dict[str, int] = {}
    for _, text in headings(source):
        original = result = slug(heading_text(text))
        while result in occurrences:
            occurrences[original] += 1
            result = f"{original}-{occurrences[original]}"
        occurrences[result] = 0
    explicit = {match.group(1) for line in source.prose if line is not None
                for match in _HTML_ANCHOR.finditer(_blank_code(line))}
    return set(occurrences) | explicit


# --- links ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A link target as written, with the file and (1-based) line it is on."""

    file: Path
    line: int
    target: str


def links(path: Path, source: Scan | None = None) -> list[Link]:
    """Every link and image target in a Markdown file's prose (fences, inline code and HTML comments skipped)."""
    source = source or scan(path.read_text(encoding="utf-8"))
    found = []
    for number, line in enumerate(source.prose, start=1):
        if line is None:
            continue
        line = _blank_code(line)
        targets = [m.group(1) for m in _INLINE_LINK.finditer(line)] + [m.group(1) for m in _HTML_LINK.finditer(line)]
        definition = _REFERENCE_DEFINITION.match(line)
        if definition:
            targets.append(definition.group(1))
        for target in targets:
            target = target[1:-1] if target.startswith("<") and target.endswith(">") else target
            found.append(Link(path, number, target))
    return found


class LinkChecker:
    """Checks links against a repository root, reading each target Markdown file once."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).resolve()
        self._scans: dict[Path, Scan] = {}
        self._anchors: dict[Path, set[str]] = {}
        self._ignored: dict[Path, bool] = {}

    def scan(self, path: Path) -> Scan:
        path = path.resolve()
        if path not in self._scans:
            self._scans[path] = scan(path.read_text(encoding="utf-8"))
        return self._scans[path]

    def anchors(self, path: Path) -> set[str]:
        path = path.resolve()
        if path not in self._anchors:
            self._anchors[path] = anchors(self.scan(path))
        return self._anchors[path]

    def check(self, files: Iterable[Path]) -> list[str]:
        """One ``file:line: link -> reason`` line per broken link in ``files``, in file and line order."""
        found = [link for path in files for link in links(path, self.scan(path))]
        self._find_ignored([self._resolve(link)[0] for link in found if not _SCHEME.match(link.target)])
        problems = []
        for link in found:
            reason = self.reason(link)
            if reason:
                problems.append(f"{relative(link.file, self.root)}:{link.line}: {link.target} -> {reason}")
        return problems

    def _resolve(self, link: Link) -> tuple[Path, str | None]:
        """The path a relative link points to (normalised, not resolved through links) and its anchor, if any."""
        target, _, anchor = link.target.partition("#")
        target = unquote(target.split("?")[0])
        if not target:
            path = link.file.resolve()
        elif target.startswith("/"):
            path = self.root / target.lstrip("/")
        else:
            path = link.file.resolve().parent / target
        return Path(os.path.normpath(os.path.abspath(path))), (unquote(anchor) if "#" in link.target else None)

    def reason(self, link: Link) -> str | None:
        """Why ``link`` does not resolve, or ``None`` when it does (or is external)."""
        if _SCHEME.match(link.target):
            return None
        if not link.target.strip():
            return "empty link"
        path, anchor = self._resolve(link)
        if path != self.root and self.root not in path.parents:
            return "outside the repository"
        if not path.exists():
            return "no such file or directory"
        if self._ignored.get(path):
            return "ignored by git (never on GitHub)"
        if not anchor:
            return None
        if path.is_dir():
            path = path / "README.md"
            if not path.is_file():
                return None
        if path.suffix.lower() not in _MARKDOWN_SUFFIXES:
            return None
        if anchor not in self.anchors(path):
            return f"no heading or <a id> with anchor #{anchor} in {relative(path, self.root)}"
        return None

    def _find_ignored(self, paths: Sequence[Path]) -> None:
        """Ask git once which of ``paths`` are ignored (tracked files never are; nothing is outside a git work tree
        or without git)."""
        paths = [p for p in dict.fromkeys(paths) if p not in self._ignored and self.root in p.parents]
        if not paths:
            return
        listing = "".join(os.path.relpath(p, self.root) + "\0" for p in paths)
        try:
            result = subprocess.run(["git", "-C", str(self.root), "check-ignore", "-z", "--stdin"], check=False,
                                    input=listing, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            result = None
        ignored = set()
        if result is not None and result.returncode == 0:
            ignored = {os.path.normpath(self.root / name) for name in result.stdout.split("\0") if name}
        for path in paths:
            self._ignored[path] = str(path) in ignored


def check_links(files: Iterable[Path], root: str | os.PathLike) -> list[str]:
    """One ``file:line: link -> reason`` line per broken relative link in ``files`` (see the module docstring)."""
    return LinkChecker(root).check(files)


# --- runnable blocks -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A ``<!-- runnable -->`` block: where its fence opens, its code and options, and what is wrong with it."""

    file: Path
    line: int
    code: str
    timeout: int = DEFAULT_TIMEOUT
    slow: bool = False
    error: str | None = None

    def label(self, root: str | os.PathLike) -> str:
        return f"{relative(self.file, root)}:{self.line}"


@dataclass(frozen=True)
class BlockResult:
    """The outcome of one block: ``None`` for ``returncode`` when it timed out; ``output`` is stdout and stderr."""

    returncode: int | None
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def runnable_blocks(files: Iterable[Path]) -> list[Block]:
    """Every block marked ``<!-- runnable [timeout=N] [slow] -->`` in ``files``; a marker that is malformed or not
    directly above a fence gives a block with an ``error`` (its test then fails instead of the block being lost)."""
    blocks = []
    for path in files:
        source = scan(path.read_text(encoding="utf-8"))
        fences = {fence.line: fence for fence in source.fences}
        for index, line in enumerate(source.raw):
            marker = _MARKER.match(line)
            if not marker or source.prose[index] is None:
                continue
            number = index + 2  # the fence's line
            timeout, slow, errors = DEFAULT_TIMEOUT, False, []
            for option in marker.group(1).split():
                key, _, value = option.partition("=")
                if key == "timeout" and value.isdigit() and int(value) > 0:
                    timeout = int(value)
                elif option == "slow":
                    slow = True
                else:
                    errors.append(f"unknown runnable option {option!r} (known: timeout=SECONDS, slow)")
            fence = fences.get(number)
            if fence is None:
                errors.append("<!-- runnable --> is not directly followed by a fenced block")
            elif fence.language not in SHELL_LANGUAGES:
                errors.append(f"runnable block in {fence.language!r}: only {sorted(SHELL_LANGUAGES)} run")
            blocks.append(Block(path, number if fence else index + 1, fence.code if fence else "", timeout, slow,
                                "; ".join(errors) or None))
    return blocks


def run_block(block: Block, root: str | os.PathLike, tmp: str | os.PathLike) -> BlockResult:
    """Run ``block`` with ``bash -euo pipefail`` in ``root``, ``root/.venv/bin`` first on PATH, ``OMP_NUM_THREADS=1``
    and ``RAMAC_DOCS_TMP=tmp``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", RAMAC_DOCS_TMP=str(tmp),
               PATH=os.pathsep.join([str(Path(root) / ".venv" / "bin"), os.environ.get("PATH", "")]))
    with subprocess.Popen(["bash", "-euo", "pipefail", "-c", block.code], cwd=root, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True) as process:
        try:
            output, _ = process.communicate(timeout=block.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the whole group: a child left behind would hold the pipe open
            output, _ = process.communicate()
            return BlockResult(None, output.decode(errors="replace") + f"\n[timed out after {block.timeout} s]")
    return BlockResult(process.returncode, output.decode(errors="replace"))


def failure(block: Block, result: BlockResult, root: str | os.PathLike) -> str:
    """The assertion message for a failed block: where it is, how it ended and the tail of its output."""
    ending = "timed out" if result.returncode is None else f"exited {result.returncode}"
    return f"{block.label(root)}: runnable block {ending}; last {OUTPUT_TAIL} characters of output:\n" \
           f"{result.output[-OUTPUT_TAIL:]}"
