"""The credential audit: a clean tree passes, every kind of leak is found at its path:line, no value is printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from replaygate.cassettes.audit import audit_files, json_offsets, main, scan_text

REPO = Path(__file__).resolve().parents[1]
# A recorded cassette, fixed: `pytest --optimize` re-records the repo's own.
SAMPLE = REPO / "tests" / "data" / "recorded_cassette.json"
OPENAI_KEY = "sk-" + "Zq7" * 8
PROJECT_KEY = "sk-proj-" + "Ab3_" * 6
HEX_KEY = "9f" * 16
BEARER = "Bearer " + "eyJhbGciOiJIUzI1NiJ9" + "xY" * 6


def cassette(edit=None) -> dict:
    """A recorded cassette, optionally edited; its bodies are stored as JSON, as the harness writes them."""
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    if edit:
        edit(data)
    return data


def first_message(data: dict, text: str) -> None:
    data["interactions"][0]["request"]["body"]["json"]["messages"][0]["content"] += " " + text


def header(side: str, name: str, value: str):
    return lambda data: data["interactions"][-1][side]["headers"].__setitem__(name, [value])


def uri(query: str):
    return lambda data: data["interactions"][0]["request"].__setitem__(
        "uri", "https://my.openai.azure.com/openai/deployments/d/chat/completions?" + query)


def run(capsys, *args: str, environ=None) -> tuple[int, str]:
    code = main(list(args), environ=environ or {})
    out = capsys.readouterr()
    return code, out.out + out.err


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if needle in line)


# --- a clean tree --------------------------------------------------------------------------------


def test_the_committed_cassettes_and_reports_are_clean(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    expected = sum(1 for folder in ("cassettes", "reports") for p in (REPO / folder).rglob("*") if p.is_file())
    code, output = run(capsys, environ={"OPENAI_API_KEY": "sk-not-in-any-file-0000"})
    assert (code, output) == (0, f"audit: {expected} files clean\n")


def test_simulator_ids_and_hex_outside_headers_and_queries_are_not_keys(tmp_path):
    data = cassette(lambda d: first_message(d, f"request id {HEX_KEY}, chatcmpl-sim-{'a1' * 12}, call_{'b2' * 6}"))
    data["interactions"][0]["response"]["body"]["json"]["id"] = "f" * 32
    text = json.dumps(data, indent=1, sort_keys=True)
    assert scan_text("c.json", text, []) == []
    assert scan_text("notes.md", f"| run | {HEX_KEY} |\nhash: sha256 {HEX_KEY}0000\n", []) == []


# --- each kind of leak, at its path:line ---------------------------------------------------------

LEAKS = {
    "openai key in a body": (lambda d: first_message(d, f"key {OPENAI_KEY}"), OPENAI_KEY, "OpenAI-style API key"),
    "project key in a body": (lambda d: first_message(d, PROJECT_KEY), PROJECT_KEY, "OpenAI-style API key"),
    "bearer token in a body": (lambda d: first_message(d, BEARER), BEARER[7:], "Bearer token"),
    "authorization header": (header("request", "authorization", BEARER), '"authorization": [',
                             "credential header 'authorization' stored in the cassette"),
    "api-key header": (header("request", "api-key", HEX_KEY), '"api-key": [', "credential header 'api-key' stored in the cassette"),
    "x-api-key header": (header("request", "X-Api-Key", "abc"), '"X-Api-Key": [', "credential header 'x-api-key' stored in the cassette"),
    "cookie header": (header("request", "cookie", "session=1"), '"cookie": [', "credential header 'cookie' stored in the cassette"),
    "set-cookie header": (header("response", "set-cookie", "__cf_bm=x"), '"set-cookie": [',
                          "credential header 'set-cookie' stored in the cassette"),
    "openai-organization header": (header("response", "openai-organization", "org-abc"), '"openai-organization": [',
                                   "credential header 'openai-organization' stored in the cassette"),
    "32-hex in another header": (header("request", "ocp-apim-subscription-key", HEX_KEY), HEX_KEY,
                                 "32-hex key in header 'ocp-apim-subscription-key'"),
    "32-hex query value": (uri(f"api-version=2024-10-21&code={HEX_KEY}"), HEX_KEY, "32-hex key in query 'code'"),
    "api-key query key": (uri("api-version=2024-10-21&api-key=short"), "api-key=short",
                          "credential query key 'api-key' stored in the cassette"),
}


@pytest.mark.parametrize("name", list(LEAKS))
def test_each_leak_in_a_cassette_is_found_at_its_line(tmp_path, capsys, name):
    edit, needle, what = LEAKS[name]
    path = tmp_path / "cassettes" / "suite" / "model" / "case.r0.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(cassette(edit), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (tmp_path / "cassettes" / "clean.json").write_text(json.dumps(cassette()), encoding="utf-8")

    code, output = run(capsys, str(tmp_path / "cassettes"), "--pyproject", str(tmp_path / "none.toml"))
    assert code == 1
    assert f"{path}:{line_of(path, needle)}: {what} (value hidden)" in output.splitlines()
    assert output.splitlines()[-1].startswith("audit: ") and "of 2 files" in output.splitlines()[-1]
    assert "clean.json" not in output
    for value in (OPENAI_KEY, PROJECT_KEY, HEX_KEY, BEARER[7:], "session=1", "org-abc", "__cf_bm"):
        assert value not in output


def test_secret_env_values_are_found_even_without_a_known_shape(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text('[tool.replaygate]\nsecret_env = ["MY_GATEWAY_TOKEN", "SHORT"]\n', encoding="utf-8")
    token, short = "gw/tok\"en+1234", "abc"
    path = tmp_path / "reports" / "scores.md"
    path.parent.mkdir()
    path.write_text(f"# Scores\n\nmodel said {short}\n", encoding="utf-8")
    cassette_path = tmp_path / "cassettes" / "c.json"
    cassette_path.parent.mkdir()
    cassette_path.write_text(json.dumps(cassette(lambda d: first_message(d, token)), indent=1), encoding="utf-8")
    environ = {"MY_GATEWAY_TOKEN": token, "SHORT": short, "OPENAI_API_KEY": "sk-unrelated-but-long-0001"}

    code, output = run(capsys, "--pyproject", str(tmp_path / "pyproject.toml"), environ=environ)
    # The JSON-escaped spelling (with \") is found too; a value under 8 characters is ignored.
    line = line_of(cassette_path, "gw/tok")
    assert code == 1
    assert output.splitlines() == [
        f"{cassette_path}:{line}: value of $MY_GATEWAY_TOKEN (value hidden)",
        "audit: 1 credential-looking hit in 1 of 2 files; remove them (and rotate any real key), then re-run",
    ]
    assert token not in output and json.dumps(token) not in output


def test_default_secret_env_is_the_openai_and_azure_keys(tmp_path, capsys):
    azure = "0123456789abcdef" * 2
    (tmp_path / "log.txt").write_text(f"first\nrequest with {azure} inside\n", encoding="utf-8")
    code, output = run(capsys, str(tmp_path / "log.txt"), "--pyproject", str(tmp_path / "none.toml"),
                       environ={"AZURE_OPENAI_API_KEY": azure})
    assert code == 1
    assert f"{tmp_path / 'log.txt'}:2: value of $AZURE_OPENAI_API_KEY (value hidden)" in output
    assert azure not in output


def test_leaks_in_plain_text_and_yaml_files(tmp_path, capsys):
    text = tmp_path / "http.log"
    text.write_text(
        "POST /openai/deployments/d/chat/completions?api-version=2024-10-21\n"
        f"api-key: {HEX_KEY}\n"
        f"ocp-apim-subscription-key: {HEX_KEY}\n"
        f"GET https://x.example/v1?sig={HEX_KEY}&n=1\n"
        "Content-Type: application/json\n",
        encoding="utf-8",
    )
    yaml = tmp_path / "cassette.yaml"
    yaml.write_text("interactions:\n- request:\n    headers:\n      Authorization:\n      - " + BEARER + "\n", encoding="utf-8")
    code, output = run(capsys, str(text), str(yaml), "--pyproject", str(tmp_path / "none.toml"))
    assert code == 1
    # In the order the paths were given, then by line.
    assert output.splitlines() == [
        f"{text}:2: credential header 'api-key' (value hidden)",
        f"{text}:3: 32-hex key in header 'ocp-apim-subscription-key' (value hidden)",
        f"{text}:4: 32-hex key in query 'sig' (value hidden)",
        f"{yaml}:4: credential header 'authorization' (value hidden)",
        f"{yaml}:5: Bearer token (value hidden)",
        "audit: 5 credential-looking hits in 2 of 2 files; remove them (and rotate any real key), then re-run",
    ]


# --- the parts -----------------------------------------------------------------------------------


def test_json_offsets_locate_members_and_elements():
    text = '{"a": 1,\n "b": [\n  "x",\n  {"c": null}\n ],\n "d": {}}'
    offsets = json_offsets(text)
    lines = {path: text.count("\n", 0, at) + 1 for path, at in offsets.items()}
    assert lines == {("a",): 1, ("b",): 2, ("b", 0): 3, ("b", 1): 4, ("b", 1, "c"): 4, ("d",): 6}


def test_a_compact_cassette_reports_line_one(tmp_path):
    text = json.dumps(cassette(header("request", "authorization", "x")))
    hits = scan_text("c.json", text, [])
    assert [(h.line, h.what) for h in hits] == [(1, "credential header 'authorization' stored in the cassette")]


def test_audit_files_counts_every_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.json").write_text("{}", encoding="utf-8")
    (tmp_path / "a" / "two.bin").write_bytes(b"\xff\xfe" + OPENAI_KEY.encode())
    hits, count = audit_files([tmp_path / "a"], [])
    assert count == 2
    assert [(Path(h.path).name, h.line, h.what) for h in hits] == [("two.bin", 1, "OpenAI-style API key")]


# --- the command line ----------------------------------------------------------------------------


def test_a_missing_path_or_a_broken_pyproject_is_a_usage_error(tmp_path, capsys):
    code, output = run(capsys, str(tmp_path / "nope"), "--pyproject", str(tmp_path / "none.toml"))
    assert (code, output) == (2, f"audit: {tmp_path / 'nope'}: no such file or folder; pass existing files or folders\n")
    (tmp_path / "pyproject.toml").write_text("[tool.replaygate\n", encoding="utf-8")
    code, output = run(capsys, "--pyproject", str(tmp_path / "pyproject.toml"))
    assert code == 2
    assert output.startswith(f"audit: {tmp_path / 'pyproject.toml'}: invalid TOML") and output.count("\n") == 1


def test_the_module_runs_as_a_command():
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-m", "replaygate.cassettes.audit"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("audit: ") and done.stdout.endswith(" files clean\n")
