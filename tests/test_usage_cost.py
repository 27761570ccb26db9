"""Usage and cost as the wire says, labels that name the real backend, and a model's errors kept in the recording."""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import replace
from pathlib import Path

import httpx2
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replaygate import FunctionModel, Prompt, Suite, graders
from replaygate.cassettes.cassette import CaseKey, CassetteBodyError, CassetteLibrary
from replaygate.core.config import load_config
from replaygate.core.errors import InputError
from replaygate.run.evaluation import Evaluation, RunInfo
from replaygate.core.rollout import Rollout, Usage
from replaygate.run.runner import CaseResult
from replaygate.core.score import Score
from replaygate.core.task import Task
from replaygate.llm.backend import REPLAY_BASE_URL, SIM_BASE_URL, Backend, resolve_backend
from replaygate.llm.pricing import Price, estimated_cost, load_prices, price_for
from replaygate.llm.status import model_answer
from replaygate.results.gate import GateSettings, compare_to_baseline
from replaygate.results.outcome import task_outcomes
from replaygate.results.record import CaseRecord, record_case
from replaygate.results.report import render_scores, run_metadata
from replaygate.results.results import RunResults, SuiteResults

PRICES = load_prices().models
WIRE = Path(__file__).parent / "data" / "wire"


# --- prices ----------------------------------------------------------------------------------------


def test_a_dated_name_takes_the_price_of_the_name_it_extends_and_nothing_else():
    assert price_for("gpt-4o-2024-08-06", PRICES) == PRICES["gpt-4o"]
    assert price_for("gpt-4o-mini-2024-07-18", PRICES) == PRICES["gpt-4o-mini"]  # the longest name wins
    assert price_for("gpt-4.1-2025-04-14", PRICES) == PRICES["gpt-4.1"]
    # Another model is not a version: o3-mini is not billed as o3, a fine-tune not as its base.
    assert price_for("o3-mini", PRICES) == PRICES["o3-mini"] != PRICES["o3"]
    assert price_for("gpt-4o-audio-preview", PRICES) is None
    assert price_for("ft:gpt-4o-2024-08-06:acme::x1", PRICES) is None
    assert price_for("gpt-4", PRICES) is None


@given(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**7))
def test_cached_input_costs_the_cached_rate_and_never_more_than_uncached(tokens_in, cached, tokens_out):
    cached = min(cached, tokens_in)
    price = PRICES["gpt-4.1"]
    cost = estimated_cost({"gpt-4.1-2025-04-14": [tokens_in, cached, tokens_out]}, PRICES)
    expected = ((tokens_in - cached) * price.input + cached * price.cached_input + tokens_out * price.output) / 1e6
    assert math.isclose(cost, expected, rel_tol=1e-12, abs_tol=1e-12)
    assert cost <= estimated_cost({"gpt-4.1": [tokens_in, 0, tokens_out]}, PRICES) + 1e-12
    # The older (input, output) form is all-uncached.
    assert estimated_cost({"gpt-4.1": (tokens_in, tokens_out)}, PRICES) == estimated_cost(
        {"gpt-4.1": [tokens_in, 0, tokens_out]}, PRICES)


def test_a_price_without_cached_input_charges_the_input_rate(tmp_path):
    table = tmp_path / "prices.toml"
    table.write_text('[models."a"]\ninput = 2.0\noutput = 4.0\n[models."b"]\ninput = 2.0\ncached_input = 0.5\noutput = 4.0\n')
    prices = load_prices(table).models
    assert prices["a"] == Price(2.0, 4.0) and prices["a"].cached_rate == 2.0 and prices["b"].cached_rate == 0.5
    assert estimated_cost({"a": [1_000_000, 1_000_000, 0]}, prices) == 2.0
    assert estimated_cost({"b": [1_000_000, 1_000_000, 0]}, prices) == 0.5


def test_an_unreadable_cached_input_names_the_file(tmp_path):
    table = tmp_path / "prices.toml"
    table.write_text('[models."a"]\ninput = 2.0\noutput = 4.0\ncached_input = "cheap"\n')
    with pytest.raises(InputError, match=r"prices\.toml: unreadable price table .*may give cached_input\)$"):
        load_prices(table)


def test_the_shipped_table_never_prices_cached_input_above_input():
    for name, price in PRICES.items():
        assert price.cached_rate <= price.input, name


# --- records and reports ---------------------------------------------------------------------------

INFO = RunInfo(suite="s", mode="replay", backend="replay", is_simulator=False, agent_model="gpt-4.1-nano",
               judge_model="gpt-4.1", prompt_path="p.md", prompt_version="v", record_mode="none")


def record(task_id: str, usage: Usage, grading: Usage = Usage()) -> CaseRecord:
    task = Task(id=task_id, input={}, expected="x")
    rollout = Rollout(task_id=task_id, answer="x", final_text="x", usage=usage, grading_usage=grading)
    score = Score(1.0, "ok")
    return record_case(CaseResult(task=task, repeat=0, rollout=rollout, scores={"g": score}, score=score), 0.8,
                       lambda r: "x")


def named(model: str, tokens_in: int, cached: int, tokens_out: int, reasoning: int = 0) -> Usage:
    return Usage(tokens_in, tokens_out, 1, cached, reasoning, {model: [tokens_in, cached, tokens_out]})


def report(records, info=INFO):
    results = RunResults(0.8, 1, None, {info.suite: SuiteResults(info, list(records), [])})
    diff = compare_to_baseline(task_outcomes(records, None), None, info.suite,
                               results.run_settings(results.suites[info.suite]), GateSettings(), "no baseline")
    return render_scores(results, {info.suite: diff}, PRICES, "2025-08"), run_metadata(results, {info.suite: diff}, {}, PRICES)


def test_a_case_sums_its_calls_and_the_report_prices_each_under_the_model_its_answer_named():
    agent = named("gpt-4o-2024-08-06", 400_000, 300_000, 20_000, 5_000)
    agent.add(named("o4-mini-2025-04-16", 100_000, 0, 50_000, 40_000))
    agent.add(Usage(1_000, 100, 1, 100))  # an answer that named no model: the configured one prices it
    judge = named("gpt-4.1-mini-2025-04-14", 50_000, 10_000, 1_000)
    case = record("a", agent, judge)
    assert (case.tokens_in, case.tokens_cached, case.tokens_out, case.tokens_reasoning) == \
        (551_000, 310_100, 71_100, 45_000)
    assert case.models == {"gpt-4o-2024-08-06": [400_000, 300_000, 20_000], "o4-mini-2025-04-16": [100_000, 0, 50_000]}

    text, document = report([case])
    usage = document["suites"]["s"]["usage"]
    assert usage["by_model"] == {
        "gpt-4.1-mini-2025-04-14": {"tokens_in": 50_000, "tokens_cached": 10_000, "tokens_out": 1_000},
        "gpt-4.1-nano": {"tokens_in": 1_000, "tokens_cached": 100, "tokens_out": 100},
        "gpt-4o-2024-08-06": {"tokens_in": 400_000, "tokens_cached": 300_000, "tokens_out": 20_000},
        "o4-mini-2025-04-16": {"tokens_in": 100_000, "tokens_cached": 0, "tokens_out": 50_000},
    }
    expected = (100_000 * 2.50 + 300_000 * 1.25 + 20_000 * 10.00       # gpt-4o, its cached part at the cached rate
                + 100_000 * 1.10 + 50_000 * 4.40                      # o4-mini
                + 900 * 0.10 + 100 * 0.025 + 100 * 0.40              # the unnamed call, as gpt-4.1-nano
                + 40_000 * 0.40 + 10_000 * 0.10 + 1_000 * 1.60) / 1e6  # the judge's calls, as gpt-4.1-mini
    assert math.isclose(usage["estimated_cost_usd"], expected, rel_tol=1e-12)
    assert (usage["tokens_in"], usage["tokens_cached"], usage["tokens_out"], usage["tokens_reasoning"]) == \
        (551_000, 310_100, 71_100, 45_000)
    assert f"| estimated cost    | ${expected:.2f}, what the recorded calls cost" in text
    assert "551000 / 71100 (310100 of the input cached, 45000 of the output reasoning)" in text
    case_json = document["suites"]["s"]["cases"][0]
    assert (case_json["tokens_cached"], case_json["tokens_reasoning"]) == (310_100, 45_000)


def test_the_configured_model_prices_what_no_answer_named_and_an_unknown_model_is_n_a():
    text, document = report([record("a", Usage(1_000_000, 0, 1))], replace(INFO, agent_model="gpt-4o"))
    assert document["suites"]["s"]["usage"]["estimated_cost_usd"] == 2.50
    text, document = report([record("a", named("acme-llm-7b", 10, 0, 10))])
    assert "n/a (no price for acme-llm-7b); add it to the price table" in text
    assert document["suites"]["s"]["usage"]["estimated_cost_usd"] is None


def test_a_record_written_before_the_new_fields_still_reads_with_zeros():
    old = {"task_id": "a", "repeat": 0, "expected": "x", "chosen": "x", "score": 1.0, "passed": True, "reason": "",
           "error_kind": None, "tokens_in": 120, "tokens_out": 7, "retries": 0, "task_input": {}, "grader_scores": {},
           "grading_tokens_in": 0, "grading_tokens_out": 0, "latency_s": 0.0, "contaminated": ""}
    case = CaseRecord.from_json(json.dumps(old))
    assert (case.tokens_cached, case.tokens_reasoning, case.models, case.grading_models) == (0, 0, {}, {})
    text, document = report([case], replace(INFO, agent_model="gpt-4o"))
    assert "120 / 7 (0 of the input cached, 0 of the output reasoning)" in text
    assert math.isclose(document["suites"]["s"]["usage"]["estimated_cost_usd"], (120 * 2.5 + 7 * 10) / 1e6)


# --- labels ----------------------------------------------------------------------------------------


def test_labels_name_what_answers_unless_the_settings_name_the_model():
    azure = resolve_backend("azure", False, {"AZURE_OPENAI_ENDPOINT": "https://acme.openai.azure.com",
                                             "AZURE_OPENAI_API_KEY": "k" * 32,
                                             "AZURE_OPENAI_AGENT_DEPLOYMENT": "prod-4o"}, {})
    assert azure.model_labels("agent", "sim-standin-1", named=False) == ["prod-4o"]
    assert azure.model_labels("agent", "gpt-4o", named=True) == ["gpt-4o"]
    double = FunctionModel(lambda request: "hi", name="ticket_double")
    sim = Backend("sim", "sim", base_url=SIM_BASE_URL).with_double(double, "s")
    assert sim.model_labels("agent", "sim-standin-1", named=False) == ["ticket_double"]

    class RoomSimulator:  # a double with no name of its own keeps the default
        label = "simulator"

    simulator = Backend("sim", "sim", base_url=SIM_BASE_URL).with_double(RoomSimulator, "s")
    assert simulator.model_labels("agent", "sim-standin-1", named=False) == ["sim-standin-1"]
    compatible = resolve_backend("openai", False, {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://127.0.0.1:8/v1"}, {})
    assert compatible.model_labels("agent", "sim-standin-1", named=False) == ["sim-standin-1"]
    assert compatible.label == "openai-compatible http://127.0.0.1:8/v1"  # the report's provider line names it
    replay = Backend("replay", "replay", base_url=REPLAY_BASE_URL)
    assert replay.model_labels("agent", "sim-standin-1", named=False, double=double, deployments={"agent": "prod-4o"}) \
        == ["prod-4o", "ticket_double", "sim-standin-1"]


def plans(request):
    return "gold"


def solver(inp, client, prompt: Prompt):
    return client.chat.completions.create(**prompt.chat()).choices[0].message.content


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    (tmp_path / "prompt.md").write_text("Which plan is {who} on?\n")
    (tmp_path / "tasks.yaml").write_text('- {"id": "ann", "input": {"who": "ann"}, "expected": "gold"}\n')
    return tmp_path


def evaluation(root: Path, backend: Backend, record_mode: str = "none", double=None, **settings) -> Evaluation:
    declared = Suite("plans", solver=solver, tasks="tasks.yaml", prompt="prompt.md",
                     double=double or FunctionModel(plans), graders=[graders.ExactMatch()])
    config = load_config(None, {"cassettes": "tapes", **settings}, suite=declared.name, code=declared.code_settings())
    return Evaluation(declared, config, root, backend, record_mode, {})


def test_a_function_double_records_under_its_own_name_and_the_replay_finds_it(project):
    recorder = evaluation(project, Backend("sim", "sim", base_url=SIM_BASE_URL), "once")
    recorded = recorder.run(list(recorder.loaded.tasks))
    assert recorded[0].value == 1.0
    assert [p.relative_to(project).as_posix() for p in (project / "tapes").rglob("*.json")] == ["tapes/plans/plans/ann.r0.json"]
    assert recorder.info().agent_model == "plans"
    replay = evaluation(project, Backend("replay", "replay", base_url=REPLAY_BASE_URL))
    assert replay.info().agent_model == "plans"
    assert [(r.failure, r.value) for r in replay.run(list(replay.loaded.tasks))] == [(None, 1.0)]
    # A model named in the settings is the label, in every mode.
    assert evaluation(project, Backend("replay", "replay"), **{"models.agent": "gpt-4o"}).info().agent_model == "gpt-4o"


# --- a model's errors are part of the recording ----------------------------------------------------


def test_only_a_4xx_about_the_request_is_the_models_answer():
    assert all(model_answer(s) for s in (200, 201, 400, 413, 422))
    assert not any(model_answer(s) for s in (401, 403, 404, 405, 407, 408, 409, 429, 500, 503, 302))


def test_a_400_from_the_model_is_recorded_by_default_and_the_case_replays_with_the_same_score(project):
    too_long = (WIRE / "error_400_context_length.json").read_bytes()

    class Refusing(httpx2.AsyncBaseTransport, httpx2.BaseTransport):
        label = "a service whose context window is too small"

        async def handle_async_request(self, request):
            return httpx2.Response(400, headers={"content-type": "application/json"}, content=too_long)

    recorder = evaluation(project, Backend("sim", "sim", base_url=SIM_BASE_URL), "once", double=Refusing)
    (recorded,) = recorder.run(list(recorder.loaded.tasks))
    assert recorded.rollout.error_kind == "rejected" and recorded.value == 0.0
    assert recorded.rollout.error.startswith("API error 400: BadRequestError: ")
    (tape,) = (project / "tapes").rglob("*.json")
    assert json.loads(tape.read_text())["interactions"][0]["response"]["status"]["code"] == 400

    replay = evaluation(project, Backend("replay", "replay", base_url=REPLAY_BASE_URL), double=Refusing)
    (replayed,) = replay.run(list(replay.loaded.tasks))
    assert replayed.failure is None
    assert (replayed.rollout.error_kind, replayed.rollout.error, replayed.value) == \
        (recorded.rollout.error_kind, recorded.rollout.error, recorded.value)


def broken_cassette(root: Path, body: str, content_type: str = "application/json") -> CaseKey:
    key = CaseKey("s", "m", "case")
    path = root / key.relpath
    path.parent.mkdir(parents=True)
    request = {"body": {"json": {"messages": [{"content": "hi", "role": "user"}], "model": "m"}},
               "headers": {"content-type": ["application/json"]}, "method": "POST",
               "uri": "http://model.invalid/v1/chat/completions"}
    response = {"body": {"string": body}, "headers": {"content-type": [content_type]}, "status": {"code": 200, "message": "OK"}}
    path.write_text(json.dumps({"interactions": [{"request": request, "response": response}], "version": 1}))
    return key


def ask(library: CassetteLibrary, key: CaseKey):
    async def go():
        async with httpx2.AsyncClient(transport=library.transport()) as http:
            client = openai.AsyncOpenAI(api_key="sk-test-not-a-real-key", base_url="http://model.invalid/v1",
                                        http_client=http, max_retries=0)
            with library.case(key):
                return await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    return asyncio.run(go())


def test_a_recorded_body_that_is_not_json_names_the_cassette_and_the_fix(tmp_path):
    key = broken_cassette(tmp_path, '{"id": "chatcmpl-1", "choices": [')  # cut off, say by a bad merge
    with pytest.raises(CassetteBodyError) as caught:
        ask(CassetteLibrary(tmp_path, "none", None), key)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / key.relpath}: the recorded answer to POST /v1/chat/completions is not JSON")
    assert message.endswith("re-record the case with --eval-record-mode=all, or restore the file from git")
    assert "\n" not in message and isinstance(caught.value, InputError)


def test_a_recorded_non_json_answer_is_kept_when_errors_are_recorded_on_purpose(tmp_path):
    key = broken_cassette(tmp_path, "<html>bad gateway</html>")
    # A fault drill recorded it: the SDK meets the same unreadable answer the live run met.
    with pytest.raises(ValueError) as caught:
        ask(CassetteLibrary(tmp_path, "none", None, record_errors=True), key)
    assert not isinstance(caught.value, InputError)
    # Text the content type does not call JSON is no broken cassette: the SDK gets it as it was recorded.
    other = broken_cassette(tmp_path / "text", "plain words", "text/plain")
    assert ask(CassetteLibrary(tmp_path / "text", "none", None), other) == "plain words"


def test_the_price_entry_the_docs_show_loads_and_matches_the_shipped_table(tmp_path):
    text = (Path(__file__).parents[1] / "docs" / "usage-and-cost.md").read_text(encoding="utf-8")
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "prices.toml").write_text(block)
    assert load_prices(tmp_path / "prices.toml").models == {"gpt-4o": PRICES["gpt-4o"]}
