"""The README and docs/: every relative link resolves (to a file, and to a heading of it when it names one), and the
commands their shell blocks show name modules and pytest options that exist. The README's first suite itself is
built and run by tests/test_own_project.py."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
SHELL_BLOCK = re.compile(r"^```(?:bash|sh|shell|console)\n(.*?)^```", re.M | re.S)


def pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def prose(text: str) -> str:
    """The text outside fenced blocks and inline code, where a link is a link."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        if match := re.match(r"#{1,6} +(.+?) *#*$", line):
            base = slug(match[1])
            name, n = base, 0
            while name in found:  # a repeated heading gets -1, -2, ...
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


def test_there_are_docs_and_a_short_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200, "README.md is the front page: 200 lines or fewer; move detail to docs/"
    assert "not a real model" in readme  # the stand-in warning stays on the front page
    assert (REPO / "docs" / "index.md").is_file()


@pytest.mark.parametrize("page", pages(), ids=lambda path: str(path.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target} (no heading #{anchor} in {resolved.relative_to(REPO)})")
    assert not broken, f"{page.relative_to(REPO)}: broken links: {', '.join(broken)}"


def commands(page: Path) -> list[list[str]]:
    """Each line of the page's shell blocks, comments and `VAR=value` prefixes dropped, split as a shell would."""
    found = []
    for block in SHELL_BLOCK.findall(page.read_text(encoding="utf-8")):
        for line in block.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip().rstrip("&").strip()
            if line:
                words = shlex.split(line)
                while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
                    words.pop(0)
                found.append(words)
    return found


@pytest.mark.parametrize("page", pages(), ids=lambda path: str(path.relative_to(REPO)))
def test_the_commands_shown_name_modules_and_options_that_exist(page: Path, pytestconfig: pytest.Config):
    stale = []
    for words in commands(page):
        if words[:2] == ["python", "-m"] and len(words) > 2 and importlib.util.find_spec(words[2]) is None:
            stale.append(f"python -m {words[2]} (no such module)")
        if words[:1] == ["pytest"]:
            for word in words[1:]:
                if word.startswith("--"):
                    option = word.split("=", 1)[0]
                    try:
                        pytestconfig.getoption(option)
                    except ValueError:
                        stale.append(f"pytest {option} (no such option)")
    assert not stale, f"{page.relative_to(REPO)} shows {', '.join(stale)}"


def resolves(dotted: str) -> bool:
    """A module, or an attribute of the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            found = None
        if found is not None:
            target = importlib.import_module(module)
            for name in parts[cut:]:
                if not hasattr(target, name):
                    return False
                target = getattr(target, name)
            return True
    return False


@pytest.mark.parametrize("page", pages(), ids=lambda path: str(path.relative_to(REPO)))
def test_the_modules_and_paths_named_exist(page: Path):
    """`replaygate.x.y` and `replaygate/x/y.py` in the prose name what is there: a moved module fails here."""
    text = page.read_text(encoding="utf-8")
    dotted = set(re.findall(r"`((?:replaygate|evals)(?:\.\w+)+)`", text))
    # This repo's files; `evals/tickets.jsonl` and the like are the README's example project's, not this repo's.
    paths = set(re.findall(r"`((?:replaygate|evals/(?:rooms|sim|bench))/[\w./-]*\w)/?`", text))
    stale = sorted([name for name in dotted if not resolves(name)] + [p for p in paths if not (REPO / p).exists()])
    assert not stale, f"{page.relative_to(REPO)} names what does not exist: {', '.join(stale)}"
