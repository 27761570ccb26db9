"""`python -m replaygate.results.mermaid_check [paths]`: render every Mermaid block of the reports with mermaid.js
in headless Chromium; any parse or render error fails (exit 1), a missing browser or mermaid package skips (exit 0).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from replaygate.core.errors import InputError, read_input
from replaygate.results.charts import MIN_CONTRAST, contrast

SKIP_BROWSER = "skipped: chromium not found; install it with apt-get install chromium"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MERMAID = "mermaid@11"  # 10.5 and older do not know xychart-beta
NPM_TIMEOUT_S = 120.0  # a first install over a working network takes well under a minute
HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w-]*)")


@dataclass(frozen=True)
class Block:
    path: str
    line: int  # of the opening fence, 1-based
    text: str
    caption: str  # the paragraph right after the block, shown under the chart in screenshots

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def extract_blocks(text: str, path: str) -> list[Block]:
    """The ```mermaid blocks of a markdown text; fences of other languages are skipped whole, so a mermaid
    fence quoted inside a ```diff block is not taken for a chart."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, language = opening.group(2), opening.group(3)
        end = next((j for j in range(i + 1, len(lines))
                    if lines[j].strip().startswith(fence[0] * len(fence)) and not lines[j].strip().strip(fence[0])),
                   len(lines))
        if language == "mermaid":
            after = end + 1
            while after < len(lines) and not lines[after].strip():
                after += 1
            caption = []
            while after < len(lines) and lines[after].strip() and not FENCE.match(lines[after]):
                caption.append(lines[after].strip())
                after += 1
            blocks.append(Block(path, i + 1, "\n".join(lines[i + 1:end]), " ".join(caption)))
        i = end + 1
    return blocks


def markdown_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob("*.md")) if path.is_dir() else [path]
    return found


def find_chromium(explicit: str | None = None) -> str | None:
    for name in (explicit, os.environ.get("REPLAYGATE_CHROMIUM"), *BROWSERS):
        if name and (found := shutil.which(name)):
            return found
    return None


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "replaygate" / "mermaid"


def mermaid_script(folder: Path) -> Path | None:
    """The single-file browser build in an npm prefix (`folder/node_modules/mermaid`) or in the package itself."""
    for package in (folder / "node_modules" / "mermaid", folder):
        script = package / "dist" / "mermaid.min.js"
        if script.is_file():
            return script
    return None


def install_mermaid(folder: Path) -> tuple[Path | None, str]:
    """First use: `npm install` mermaid into `folder`; the script, or why there is none."""
    how = f"install it with npm install --prefix {folder} {MERMAID}"
    npm = shutil.which("npm")
    if npm is None:
        return None, f"skipped: the mermaid npm package is not in {folder} and npm is not found; {how}"
    print(f"installing {MERMAID} into {folder} (first use) ...", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        # Without a registry npm retries for minutes: give up after NPM_TIMEOUT_S and skip, saying how.
        done = subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", MERMAID],
                              capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"skipped: npm did not install {MERMAID} into {folder} within {NPM_TIMEOUT_S:g} s; {how}"
    script = mermaid_script(folder)
    if done.returncode != 0 or script is None:
        return None, f"skipped: npm could not install {MERMAID} into {folder}; {how}"
    return script, ""


def version_of(script: Path) -> str:
    try:
        return json.loads((script.parents[1] / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def chromium_version(chromium: str) -> str:
    done = subprocess.run([chromium, "--version"], capture_output=True, text=True)
    return " ".join(done.stdout.split()[:2]) or "Chromium"


# In the page: parse, then render each block; report the diagram type and each series' colour, as drawn.
SCRIPT = r"""
const blocks = JSON.parse(document.getElementById('blocks').textContent);
const only = new URLSearchParams(location.search).get('only');
const theme = new URLSearchParams(location.search).get('theme') || 'default';
mermaid.initialize({startOnLoad: false, securityLevel: 'strict', theme: theme});
const paint = document.createElement('canvas').getContext('2d');
function hex(colour) {  // any CSS colour as #rrggbb, as the canvas resolves it
  paint.fillStyle = '#000000';
  paint.fillStyle = colour || '#000000';
  return paint.fillStyle;
}
(async () => {
  const results = [];
  for (const [index, block] of blocks.entries()) {
    if (only !== null && String(index) !== only) continue;
    const result = {index: index, ok: false, type: '', series: [], error: ''};
    try {
      await mermaid.parse(block.text);
      const {svg} = await mermaid.render('chart' + index, block.text);
      const drawn = new DOMParser().parseFromString(svg, 'image/svg+xml');
      if (drawn.querySelector('parsererror') || /Syntax error in text/.test(svg)) throw new Error('rendered an error diagram');
      result.type = drawn.documentElement.getAttribute('aria-roledescription') || '';
      const background = drawn.querySelector('rect.background');
      result.background = hex(background ? background.getAttribute('fill') : 'white');
      for (const group of drawn.querySelectorAll('g[class*="-plot-"]')) {
        const kind = group.getAttribute('class').match(/^(line|bar)-plot-\d+$/);
        const mark = group.querySelector('path, rect');
        if (!kind || !mark) continue;
        const colour = mark.getAttribute(kind[1] === 'line' ? 'stroke' : 'fill');
        result.series.push({kind: kind[1], colour: colour, hex: hex(colour)});
      }
      result.ok = true;
      if (only !== null) {
        document.getElementById('chart').innerHTML = svg;
        document.getElementById('caption').textContent = block.caption;
      }
    } catch (error) {
      result.error = String((error && (error.message || error.str)) || error);
    }
    results.push(result);
  }
  document.getElementById('results').textContent = JSON.stringify(results);
})();
"""


def page(script: Path, blocks: Sequence[Block], background: str) -> str:
    data = json.dumps([asdict(b) for b in blocks]).replace("</", "<\\/")
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<script src="{script.resolve().as_uri()}"></script>'
        f"<style>body{{background:{background};margin:12px;font:14px sans-serif;color:#888}}"
        "#chart svg{max-width:860px}#results{display:none}</style></head><body>"
        '<div id="chart"></div><p id="caption"></p><pre id="results"></pre>'
        f'<script type="application/json" id="blocks">{data}</script><script>{SCRIPT}</script></body></html>'
    )


def run_chromium(chromium: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="mermaid-check-profile-") as profile:
        # Virtual time runs the page's promises to the end before the DOM is dumped or the screen taken.
        return subprocess.run([chromium, *HEADLESS, f"--user-data-dir={profile}", "--virtual-time-budget=60000",
                               *extra, url], capture_output=True, text=True, timeout=300)


def render(chromium: str, script: Path, blocks: Sequence[Block], shots: Path | None,
           theme: str = "default") -> list[dict]:
    """One browser run checks every block; with `shots`, one more per block takes its screenshot."""
    background = "#0d1117" if theme == "dark" else "#ffffff"  # GitHub's page colours
    with tempfile.TemporaryDirectory(prefix="mermaid-check-") as work:
        html_path = Path(work) / "page.html"
        html_path.write_text(page(script, blocks, background), encoding="utf-8")
        url = html_path.as_uri() + f"?theme={theme}"
        done = run_chromium(chromium, url, "--dump-dom")
        found = re.search(r'<pre id="results">(.*?)</pre>', done.stdout, re.DOTALL)
        if not found or not found.group(1):
            tail = " ".join(done.stderr.split()[-30:])
            raise RuntimeError(f"chromium exited {done.returncode} before the page reported; {tail}")
        results = json.loads(html.unescape(found.group(1)))
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            for result in results:
                if result["ok"]:
                    block = blocks[result["index"]]
                    name = re.sub(r"[^\w.-]+", "_", f"{block.path}-{block.line}") + (f"-{theme}" if theme != "default" else "")
                    target = shots / f"{name}.png"
                    run_chromium(chromium, f"{url}&only={result['index']}", f"--screenshot={target}",
                                 "--window-size=900,640")
                    result["screenshot"] = str(target)
    return results


def _series(series: dict, background: str) -> str:
    """A series as the check prints it (kind and colour), flagged when hard to see on the chart's background."""
    text = f"{series['kind']} {series['colour']}"
    if re.fullmatch(r"#[0-9a-fA-F]{6}", series["hex"]) and re.fullmatch(r"#[0-9a-fA-F]{6}", background):
        ratio = contrast(series["hex"], background)
        if ratio < MIN_CONTRAST:
            text += f" (low contrast: {ratio:.1f}:1 on {background})"
    return text


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    files = markdown_files(Path(p) for p in args.paths)
    texts = _read_markdown(files)
    if texts is None:
        return 2
    blocks = [b for f in files for b in extract_blocks(texts[f], str(f))]
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print(SKIP_BROWSER)
        return 0
    script = _mermaid_in(args.mermaid or Path(os.environ.get("REPLAYGATE_MERMAID_DIR") or default_cache()))
    if script is None:
        return 0
    if not blocks:
        print(f"checked 0 Mermaid blocks: none in {len(files)} markdown files")
        return 0
    results = render(chromium, script, blocks, args.screenshots, args.theme)
    failed = _print_results(results, blocks)
    print(f"{'FAILED' if failed else 'passed'}: {len(results) - failed} of {len(results)} Mermaid blocks in "
          f"{len({b.path for b in blocks})} files parse and render (mermaid {version_of(script)}, "
          f"{chromium_version(chromium)}, theme {args.theme})")
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m replaygate.results.mermaid_check", description=__doc__)
    parser.add_argument("paths", nargs="*", default=["reports"], help="markdown files or folders (default: reports)")
    parser.add_argument("--chromium", help="the browser to run (default: $REPLAYGATE_CHROMIUM, then chromium on PATH)")
    parser.add_argument("--mermaid", type=Path,
                        help=f"npm prefix holding node_modules/mermaid (default: $REPLAYGATE_MERMAID_DIR, "
                             f"then {default_cache()}, where the first run installs {MERMAID})")
    parser.add_argument("--screenshots", type=Path, help="also save one PNG per rendered block in this folder")
    parser.add_argument("--theme", default="default", choices=["default", "dark"],
                        help="Mermaid theme and page colour (GitHub uses dark for dark-mode readers)")
    return parser


def _read_markdown(files: Sequence[Path]) -> dict[Path, str] | None:
    """Each file's text, or None once an error line says which file is missing or unreadable."""
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}")
        return None
    try:
        return {f: read_input(f, InputError, "markdown file", "pass existing files or folders") for f in files}
    except InputError as exc:
        print(f"error: {exc}")
        return None


def _mermaid_in(folder: Path) -> Path | None:
    """Mermaid's script in `folder`, installed there on first use; None once a line says why there is none."""
    script = mermaid_script(folder)
    if script is None:
        script, why = install_mermaid(folder)
        if script is None:
            print(why)
    return script


def _print_results(results: Sequence[dict], blocks: Sequence[Block]) -> int:
    """One line per rendered block (its chart type and series, or its error); returns how many failed."""
    failed = 0
    for result in results:
        block = blocks[result["index"]]
        if result["ok"]:
            detail = result["type"] + (": " + ", ".join(_series(s, result["background"]) for s in result["series"])
                                       if result["series"] else "")
            shot = f" -> {result['screenshot']}" if result.get("screenshot") else ""
            print(f"ok    {block.where}  {detail}{shot}")
        else:
            failed += 1
            print(f"FAIL  {block.where}  {_one_line(result['error'])}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
