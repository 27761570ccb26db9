"""`python -m replaygate.results.mermaid_check`: every Mermaid block rendered by mermaid.js in headless Chromium.

Where Chromium and a prepared mermaid package are installed these tests really render; where Chromium is not, as on
CI, the command must skip with its one-line message and exit 0, and so they check that instead. They never install
mermaid: that needs the network, so with Chromium but no prepared package they skip at once, saying how to prepare
one (`npm install --prefix ~/.cache/replaygate/mermaid mermaid@11`, or REPLAYGATE_MERMAID_DIR).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from replaygate.optimize.summary import trajectory_chart
from replaygate.results.charts import PALETTE
from replaygate.results import mermaid_check
from replaygate.results.mermaid_check import SKIP_BROWSER, default_cache, extract_blocks, find_chromium, main, mermaid_script
from replaygate.results.report import distribution_legend, mermaid_distribution

REPO = Path(__file__).resolve().parents[1]
BLUE, ORANGE = PALETTE[0][1], PALETTE[1][1]


def prepared_mermaid() -> list[str]:
    """`--mermaid DIR` for an already installed package, or a skip now: the tests never run npm install."""
    folder = Path(os.environ.get("REPLAYGATE_MERMAID_DIR") or default_cache())
    if mermaid_script(folder) is None:
        pytest.skip(f"chromium is installed but no mermaid package is prepared in {folder}; "
                    f"npm install --prefix {folder} mermaid@11 (needs the network) to run this test")
    return ["--mermaid", str(folder)]


def fake_program(folder: Path, name: str, body: str) -> Path:
    program = folder / name
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    program.chmod(0o755)
    return program


def no_browser(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REPLAYGATE_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


def test_blocks_are_found_with_their_line_and_caption_and_only_in_mermaid_fences():
    text = "\n".join([
        "# Report", "", "```mermaid", "xychart-beta", '    bar "a" [1]', "```", "", "*Colours: blue: a.*", "",
        "```diff", "+```mermaid", "+pie", "+```", "```", "",
        "~~~mermaid", "pie", '    "x": 1', "~~~", "next paragraph", "continues", "", "````markdown", "```mermaid",
        "pie", "```", "````",
    ])
    blocks = extract_blocks(text, "r.md")
    assert [(b.where, b.text, b.caption) for b in blocks] == [
        ("r.md:3", 'xychart-beta\n    bar "a" [1]', "*Colours: blue: a.*"),
        ("r.md:16", 'pie\n    "x": 1', "next paragraph continues"),
    ]


def test_without_a_browser_the_command_skips_with_one_clear_line(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    env.pop("REPLAYGATE_CHROMIUM", None)
    done = subprocess.run([sys.executable, "-m", "replaygate.results.mermaid_check", str(REPO / "reports")],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, SKIP_BROWSER + "\n", "")
    assert SKIP_BROWSER == "skipped: chromium not found; install it with apt-get install chromium"


def test_with_a_browser_but_no_mermaid_package_nor_npm_it_skips_and_says_how_to_install(tmp_path, monkeypatch, capsys):
    browser = fake_program(tmp_path / "bin", "chromium", "exit 1")
    monkeypatch.delenv("REPLAYGATE_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(browser.parent))
    assert main([str(REPO / "reports"), "--mermaid", str(tmp_path / "none")]) == 0
    assert capsys.readouterr().out == (
        f"skipped: the mermaid npm package is not in {tmp_path / 'none'} and npm is not found; "
        f"install it with npm install --prefix {tmp_path / 'none'} mermaid@11\n")


def test_an_npm_install_that_hangs_gives_up_at_its_timeout_and_skips(tmp_path, monkeypatch, capsys):
    # As npm behaves with no network: it waits on the registry. `exec` so the timeout's kill reaches the sleep.
    fake_program(tmp_path / "bin", "chromium", "exit 1")
    fake_program(tmp_path / "bin", "npm", f"exec {shutil.which('sleep')} 30")
    monkeypatch.delenv("REPLAYGATE_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(mermaid_check, "NPM_TIMEOUT_S", 0.5)
    folder = tmp_path / "mermaid"
    assert main([str(REPO / "reports"), "--mermaid", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"skipped: npm did not install mermaid@11 into {folder} within 0.5 s; "
        f"install it with npm install --prefix {folder} mermaid@11")


def test_a_missing_file_is_an_error_not_a_skip(tmp_path, monkeypatch, capsys):
    no_browser(monkeypatch, tmp_path)
    assert main([str(tmp_path / "missing.md")]) == 2
    assert capsys.readouterr().out.startswith("error: no such file: ")


def test_the_reports_charts_render_and_a_parse_error_fails(tmp_path, capsys):
    good = "\n".join([
        "## Scores", "", mermaid_distribution([0.1, 0.5, 1.0], [0.1, 0.1, 1.0]), "", distribution_legend(3, True), "",
        "## Trajectory", "", *trajectory_chart([{"strategy": "apo", "seed": 0, "suite": "s", "splits": {"v": ["a"]},
                                                 "trajectory": [{"rollouts": 22, "best_val": 0.25},
                                                                {"rollouts": 70, "best_val": 0.42}]}]), "",
    ])
    broken = "```mermaid\nxychart-beta\n    x-axis [1, 2\n    line [1, 2]\n```\n"
    (tmp_path / "good.md").write_text(good, encoding="utf-8")
    (tmp_path / "broken.md").write_text(broken, encoding="utf-8")
    shots = tmp_path / "shots"
    mermaid = prepared_mermaid() if find_chromium() else []
    code = main([str(tmp_path / "good.md"), str(tmp_path / "broken.md"), "--screenshots", str(shots), *mermaid])
    output = capsys.readouterr().out
    if find_chromium() is None:
        assert (code, output) == (0, SKIP_BROWSER + "\n")
        return
    lines = output.splitlines()
    assert code == 1, output
    assert lines[0].startswith("ok    ") and f"good.md:3  xychart: bar {BLUE}, line {ORANGE}" in lines[0], output
    assert lines[1].startswith("ok    ") and f"good.md:17  xychart: line {BLUE}" in lines[1], output
    assert lines[2].startswith("FAIL  ") and "broken.md:1" in lines[2], output
    assert lines[3].startswith("FAILED: 2 of 3 Mermaid blocks in 2 files parse and render (mermaid 1"), output
    pictures = sorted(shots.glob("*.png"))
    assert len(pictures) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pictures)


@pytest.mark.parametrize("theme", ["default", "dark"])
def test_every_mermaid_block_of_the_committed_reports_renders(theme, capsys):
    mermaid = prepared_mermaid() if find_chromium() else []
    code = main([str(REPO / "reports"), "--theme", theme, *mermaid])
    output = capsys.readouterr().out
    if find_chromium() is None:
        assert (code, output) == (0, SKIP_BROWSER + "\n")
        return
    assert code == 0, output
    last = output.splitlines()[-1]
    assert last.startswith("passed: ") and f"theme {theme}" in last, output
