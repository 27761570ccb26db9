"""The simulator's critic role: a critique drawn only from what the traces show, citing task ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replaygate.llm.backend import resolve_backend
from replaygate.core.config import load_config
from replaygate.run.evaluation import Evaluation
from replaygate.core.prompt import load_prompt
from replaygate.optimize.critic_traces import render_traces, trace_body
from evals.rooms.suite import room_suite
from evals.sim import MODEL_NAME, respond, SimTransport
from evals.sim.critic import critique, max_issues
from evals.sim.phrasebook import FAMILIES, TIEBREAKS, default_phrasebook
from evals.sim.preference import Comparison, infer_order, merge_orders, stated_order

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = (ROOT / "tests/data/sample_traces.txt").read_text(encoding="utf-8")
# Agent Lightning's weak baseline, fixed here: `pytest --optimize` may rewrite prompts/room_selector.md.
BASELINE = (ROOT / "tests/data/al_baseline_prompt.md").read_text(encoding="utf-8")
TEMPLATE = load_prompt(ROOT / "replaygate/optimize/prompts/critique.md")


def ask_critic(prompt: str, traces: str, limit: int = 4, seed: int = 0) -> str:
    messages = TEMPLATE.render({"prompt": prompt, "traces": traces, "max_issues": str(limit)})
    reply = respond({"model": MODEL_NAME, "messages": messages, "seed": seed})
    assert reply["usage"]["completion_tokens"] > 0
    return reply["choices"][0]["message"]["content"]


def found(prompt: str, traces: str, limit: int = 8, seed: int = 0) -> dict[str, list[str]]:
    return {issue.family: issue.tasks for issue in critique(prompt, traces, limit, seed)[1]}


@pytest.fixture(scope="module")
def baseline_results():
    config = load_config(ROOT / "pyproject.toml", {"graders.judge": "0", "prompt": str(ROOT / "tests/data/al_baseline_prompt.md")}, suite="room_selector")
    evaluation = Evaluation(room_suite(double=SimTransport), config, ROOT, resolve_backend("sim", False, {}, {"agent": "", "judge": ""}))
    return evaluation.run(list(evaluation.loaded.tasks))


def traces_of(results) -> str:
    return render_traces([(r.task.id, r.value, trace_body(r)) for r in results])


def test_sample_traces_name_every_problem_with_its_tasks():
    assert found(BASELINE, SAMPLE) == {
        "capacity": ["room-003", "room-004"],
        "no_room_answer": ["room-003", "room-004"],
        "availability": ["room-002"],
        "equipment": ["room-003"],
        "single_tool_call": ["room-005"],
        "answer_format": ["room-006"],
        "tiebreaks": ["room-001"],
    }


def test_the_wire_reply_is_a_numbered_critique_with_evidence():
    text = ask_critic(BASELINE, SAMPLE)
    assert text.count("Recommended instruction:") == 4
    assert "1. " in text and "4. " in text and "5. " not in text
    assert "room-003, room-004" in text  # the two-task problems come first
    assert "R-101, 2 seats for 15 attendees" in text


def test_the_critique_asks_only_for_what_it_recommends():
    # Prose and evidence use no instruction phrasing, so an editor reads only the recommendations.
    book = default_phrasebook()
    text, issues = critique(BASELINE, SAMPLE, 8, 0)
    asked = {f for f in FAMILIES if book.asks(f, text)}
    wanted = {i.family for i in issues if i.family != "tiebreaks"} | set(stated_order(issues[-1].instruction, book))
    assert asked == wanted


@pytest.mark.parametrize("family", FAMILIES)
def test_every_recommended_instruction_is_one_the_agent_recognises(family):
    book = default_phrasebook()
    wording = book.wording(family)
    assert wording.problem and wording.instructions
    for sentence in wording.instructions + wording.preference:
        assert [f for f in FAMILIES if book.asks(f, sentence)] == [family], sentence
    assert not any(book.asks(f, wording.problem) for f in FAMILIES)


def test_the_tiebreak_sentence_keeps_its_order_for_the_agent():
    book = default_phrasebook()
    for seed in range(6):
        fragments = [book.wording(f).preference[seed % len(book.wording(f).preference)] for f in TIEBREAKS]
        sentence = "Among rooms that pass every rule, prefer " + ", then ".join(fragments) + "."
        assert stated_order(sentence, book) == list(TIEBREAKS)


def test_all_passing_traces_give_no_issues(baseline_results):
    passing = [r for r in baseline_results if r.value == 1][:8]
    assert passing
    text = ask_critic(BASELINE, traces_of(passing))
    assert "Recommended" not in text and "room-" not in text


def test_problems_the_prompt_already_addresses_are_left_out():
    prompt = "Call the tool only once. Reply with only the room id.\n" + BASELINE
    assert set(found(prompt, SAMPLE)) == {"capacity", "no_room_answer", "availability", "equipment", "tiebreaks"}


def test_most_damaging_first_and_at_most_the_asked_number(baseline_results):
    traces = traces_of([r for r in baseline_results if r.value < 1][:12])
    _, issues = critique(BASELINE, traces, 3, 0)
    assert len(issues) == 3
    counts = [len(i.tasks) for i in issues]
    assert counts == sorted(counts, reverse=True)
    assert max_issues("List at most 3 problems, most damaging first.") == 3
    assert max_issues("no limit stated") == 4


def test_seeds_vary_wording_but_not_findings():
    texts = {ask_critic(BASELINE, SAMPLE, 8, seed) for seed in range(5)}
    assert len(texts) > 1
    assert all(found(BASELINE, SAMPLE, 8, seed) == found(BASELINE, SAMPLE, 8, 0) for seed in range(5))


def test_output_is_a_pure_function_of_the_request():
    assert ask_critic(BASELINE, SAMPLE, 4, 7) == ask_critic(BASELINE, SAMPLE, 4, 7)


# --- hand-built traces, in the harness's trace format ---------------------------------------

REQUEST = "[user] Find a room on 2026-03-02 at 10:00 for 60 minutes, 4 attendees. Needs: none. Accessible required: False"


def listing(*rooms: tuple[str, int, list[str], int, int]) -> str:
    entries = [
        {"id": rid, "capacity": cap, "equipment": eq, "accessible": True, "distance_m": dist,
         "bookings": [["2026-03-02", "15:00", 30]] * booked, "free": True}
        for rid, cap, eq, dist, booked in rooms
    ]
    return json.dumps({"rooms": entries})


def trace(task: str, result: str, answer: str, feedback: list[str], error: str = "") -> str:
    body = ["Request:", REQUEST, "", "Tool calls:",
            '1. get_rooms_and_availability {"date": "2026-03-02", "duration_min": 60, "time": "10:00"}',
            f"   result: {result}", "", "Final answer:", answer]
    if error:
        body += ["", f"Error: {error}"]
    body += ["", "Grader feedback:", *feedback]
    return render_traces([(task, 0.0, "\n".join(body))])


def test_an_ordered_preference_is_inferred_only_where_the_traces_show_it():
    # The expected room has fewer spare seats but is farther away: surplus outranks distance.
    rooms = listing(("R-1", 10, [], 5, 0), ("R-2", 4, [], 50, 0))
    text, issues = critique(BASELINE, trace("t-1", rooms, "I'd recommend R-1.", ["- exact_choice 0.00: chose R-1, expected R-2"]), 4, 0)
    assert [i.family for i in issues] == ["tiebreaks"]
    assert stated_order(issues[0].instruction, default_phrasebook()) == ["tiebreak_slack"]
    assert "seat surplus comes before distance" in text


def test_no_order_is_claimed_when_two_preferences_agree():
    rooms = listing(("R-1", 10, ["tv"], 5, 0), ("R-2", 4, [], 50, 0))
    text, issues = critique(BASELINE, trace("t-1", rooms, "R-1", ["- exact_choice 0.00: chose R-1, expected R-2"]), 4, 0)
    assert "comes before" not in text
    assert issues[0].tasks == ["t-1"]


def test_free_text_no_room_the_graders_could_not_read():
    rooms = listing(("R-1", 2, [], 5, 0))
    traces = trace("t-9", rooms, "I couldn't find a suitable room for that slot.", ["- exact_choice 0.00: no room chosen"])
    assert found(BASELINE, traces) == {"no_room_answer": ["t-9"]}


def test_grader_lines_stand_in_for_a_cut_listing():
    traces = trace("t-3", '{"rooms": [{"id": "R-1", "cap …(cut)', "R-1",
                   ["- exact_choice 0.00: chose R-1, expected R-2", "- constraints 0.75: R-1 violates availability"])
    assert found(BASELINE, traces) == {"availability": ["t-3"]}


def test_inference_and_merging_of_orders():
    slack, extra, distance, bookings = TIEBREAKS
    pairs = [Comparison("a", frozenset({distance}), frozenset({bookings})), Comparison("b", frozenset({slack}), frozenset({distance}))]
    assert [s.family for s in infer_order(pairs, TIEBREAKS)] == [slack, distance]
    # A stated key stays ahead unless a pair goes against it.
    assert [s.family for s in infer_order(pairs[:1], TIEBREAKS, [extra, bookings])] == [extra, distance, bookings]
    assert merge_orders([slack, extra], [bookings]) == [slack, extra, bookings]
    assert merge_orders([slack, distance], [distance, slack]) == [distance, slack]
