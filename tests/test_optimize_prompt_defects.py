"""Written-back prompts read well: both optimizers over several seeds on the simulator, and the lint rules behind it."""

from __future__ import annotations

import json
import re

import pytest

from evals.bench.project import REPO, committed_task_lines, scaffold
from evals.rooms.suite import room_suite
from evals.sim import SimTransport
from evals.sim.editor import INVENTED_PLACEHOLDERS, RENAMED_PLACEHOLDERS, EditRequest, edit, is_sloppy
from replaygate.core.config import load_config
from replaygate.llm.backend import resolve_backend
from replaygate.optimize.lint import lint_candidate
from replaygate.optimize.optimizer_llm import OptimizerLLM
from replaygate.optimize.run import optimize
from replaygate.optimize.search import FEEDBACK
from replaygate.optimize.settings import load_settings

SIM = resolve_backend("sim", False, {}, {})
WEAK_PROMPT = REPO / "tests/data/al_baseline_prompt.md"
WEAK = WEAK_PROMPT.read_text(encoding="utf-8")
REQUIRED = ("date", "time", "duration_min", "attendees", "needs", "accessible_required")
ANSWERS = {json.loads(line)["expected_choice"] for line in committed_task_lines()}
SEEDS = range(5)
# Small searches: enough rounds for sloppy edits, retries and few-shot examples to happen.
BUDGETS = {"apo": {"budget": 200, "apo": {"beam_rounds": 3}}, "evo": {"budget": 200, "evo": {"generations": 4}}}
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_]\w*)\}(?!\})")
HEADING = re.compile(r"^\s*(?:#+\s*)?[A-Za-z][\w ]{0,40}:\s*$")
FEW_SHOT = re.compile(r"Example: (?P<input>\w+ [^;]+(?:; \w+ [^;]+)*) -> the right answer is (?P<answer>[^().;]+)\.")


def defects(text: str) -> list[str]:
    """What a reviewer would send back, read from the text alone."""
    found = []
    for name in INVENTED_PLACEHOLDERS:
        if re.search(rf"\b{name}\b", text):
            found.append(f"the bare word {name!r} left from an invented placeholder")
    for line in WEAK.splitlines():
        for old, new in RENAMED_PLACEHOLDERS.items():
            if "{" + old + "}" in line and line.replace("{" + old + "}", new) in text:
                found.append(f"the bare word {new!r} where {{{old}}} stood")
    headings = [line.strip().casefold() for line in text.splitlines() if HEADING.match(line)]
    found += [f"the heading {h!r} {headings.count(h)} times" for h in sorted(set(headings)) if headings.count(h) > 1]
    for line in text.splitlines():
        if line.lstrip().startswith("Example"):
            shot = FEW_SHOT.fullmatch(line.strip())
            if shot is None or shot["answer"] not in ANSWERS:
                found.append(f"a few-shot line with more than an input and its answer: {line[:120]!r}")
    if set(PLACEHOLDER.findall(text)) != set(REQUIRED):
        found.append(f"placeholders {sorted(set(PLACEHOLDER.findall(text)))}, not {sorted(REQUIRED)}")
    return found


def test_the_defect_check_sees_each_defect_the_issue_reported():
    assert defects(WEAK) == []
    assert defects(WEAK + "The meeting is held near location.\n")
    assert defects(WEAK.replace("{date}", "day") + "date: {date}\n")
    assert defects(WEAK + "\nRules:\n- a\n\nRules:\n- b\n")
    assert defects(WEAK + "Example: date 2026-03-04; time 10:15 -> the right answer is No Room (Prefer the nearest room).\n")
    assert defects(WEAK + "Example: date 2026-03-04; time 10:15 -> the right answer is No Room.\n") == []


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both optimizers over SEEDS, one fresh project each, one cache between them (the same paths, paid once)."""
    base = tmp_path_factory.mktemp("defects")
    sent: list = []
    real = OptimizerLLM.complete_many

    def spy(self, requests):
        sent.extend(requests)
        return real(self, requests)

    done = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(OptimizerLLM, "complete_many", spy)
        for strategy in BUDGETS:
            for seed in SEEDS:
                root = scaffold(base / f"{strategy}-{seed}", committed_task_lines(), prompt=WEAK_PROMPT)
                config = load_config(root / "pyproject.toml", {"prompt": str(root / "prompt.md")})
                raw = {"strategy": strategy, "seed": seed, "cache": str(base / "cache.jsonl"),
                       "history": str(root / "history"), "report": str(root / "reports/optimization.md"),
                       **BUDGETS[strategy]}
                start = len(sent)
                run = optimize(room_suite(double=SimTransport), config, root, SIM, load_settings(raw), {})
                done[strategy, seed] = (root, run, sent[start:])
    return done


def test_every_accepted_prompt_and_history_version_reads_well(runs):
    written = 0
    for (strategy, seed), (root, run, _) in runs.items():
        texts = {}
        if run.written:
            written += 1
            texts["written"] = (root / "prompt.md").read_text(encoding="utf-8")
            assert texts["written"] == run.document["best"]["text"]
        for path in sorted((root / "history/prompt").glob("*.md")) if (root / "history/prompt").exists() else ():
            texts[path.name] = path.read_text(encoding="utf-8")
        # Every candidate lint let through could have been accepted: they are held to the same bar.
        search = run.result.search
        for entry in search.log.values():
            if entry.origin != "incumbent" and not entry.status.startswith("rejected"):
                texts[entry.version] = search.texts[entry.version].text
        found = {name: defects(text) for name, text in texts.items() if defects(text)}
        assert found == {}, f"{strategy} seed {seed}: {found}"
    assert written >= 5  # most runs write back, so the check is not vacuous


def test_lint_rejections_get_one_retry_with_the_message_counted_as_an_optimizer_call(runs):
    retried = admitted = 0
    for (strategy, seed), (_, run, sent) in runs.items():
        doc = run.document
        assert doc["budget"]["optimizer_calls"] == len(sent), f"{strategy} seed {seed}"
        feedback = [r for r in sent if any(FEEDBACK.split(":")[0] in str(v) for v in r.values.values())]
        notes = [c for c in doc["candidates"] if any(n.startswith("asked again after lint") for n in c["notes"])]
        rejected = [c for c in doc["candidates"] if c["status"].startswith("rejected by lint")]
        assert len(feedback) <= len(rejected)  # never more than one retry per rejection
        retried += len(feedback)
        admitted += sum(not c["status"].startswith("rejected") for c in notes)
        if strategy == "evo":
            by_operator = sum(row["optimizer_calls"] for row in doc["strategy_data"]["operators"])
            assert by_operator == doc["budget"]["optimizer_calls"]
    assert retried >= 3 and admitted >= 3  # the simulator's sloppy edits were asked again, and fixed


def test_the_simulated_editor_takes_care_once_told_why_its_edit_was_rejected():
    critique = "1. Say No Room when nothing fits.\n   Recommended instruction: Answer with just the room id and nothing else."
    plain = EditRequest(WEAK.strip(), critique, REQUIRED, 2000)
    sloppy = [seed for seed in range(300) if is_sloppy(plain, seed)]
    assert len(sloppy) > 20
    for seed in sloppy:
        first = lint_candidate(edit(plain, seed), REQUIRED, 2000)
        told = EditRequest(plain.prompt, plain.critique, REQUIRED, 2000, feedback=first.rejected or "x")
        second = lint_candidate(edit(told, seed), REQUIRED, 2000)
        assert second.text is not None and not second.repairs, (seed, second)


# --- the lint rules behind it ----------------------------------------------------------------

RULES = ("date", "time")


def test_a_repeated_heading_over_lists_is_merged_under_the_first():
    text = "Pick {date} {time}.\n\nRules:\n- Be free.\n- Seat all.\n\nRules:\n- Seat all.\n- Answer the id.\n"
    verdict = lint_candidate(text, RULES, 2000)
    assert verdict.text == "Pick {date} {time}.\n\nRules:\n- Be free.\n- Seat all.\n- Answer the id.\n"
    assert verdict.repairs == ("merged the repeated heading 'Rules:' into its first occurrence",)
    numbered = lint_candidate("Pick {date} {time}.\n\nRules:\n1. A.\n2. B.\n\nRules:\n- C.\n", RULES, 2000)
    assert numbered.text.endswith("Rules:\n1. A.\n2. B.\n3. C.\n")


@pytest.mark.parametrize("text", [
    "Pick {date} {time}.\n\nRules:\nBe free and seat everyone.\n\nRules:\n- Answer the id.\n",  # prose under it
    "[system]\nRules:\n- A.\n[user]\nRules:\n- B.\n{date} {time}\n",  # in two messages
])
def test_a_repeated_heading_that_cannot_be_merged_safely_is_rejected(text):
    verdict = lint_candidate(text, RULES, 2000)
    assert verdict.text is None and "heading 'Rules:' appears twice" in verdict.rejected


def test_few_shot_lines_hold_an_input_and_its_answer_only():
    clean = "Pick {date} {time}.\nExample: date 2026-03-04; time 10:15 -> the right answer is No Room.\n"
    assert lint_candidate(clean, RULES, 2000).text == clean
    for answer in ("No Room (Prefer the nearest room)", "No Room. Prefer the nearest room"):
        padded = clean.replace("No Room", answer)
        assert "carries instructions in its answer" in lint_candidate(padded, RULES, 2000).rejected
    # Example blocks may repeat their part labels: not a repeated heading.
    block = "Pick {date} {time}.\n\nExample:\nInput: a\nAnswer: b\n\nExample:\nInput: c\nAnswer: d\n"
    assert lint_candidate(block, RULES, 2000).text == block
