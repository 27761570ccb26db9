"""The public suite API without pytest's plugin: declare, load, run on a FunctionModel, record and replay.

A solver is a plain function of (input, client, prompt); what the model was asked and answered
comes off the wire, for chat completions and the Responses API alike, sync or async.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from replaygate import FunctionModel, InputError, Prompt, Reply, Suite, Task, ToolCall, graders
from replaygate.core.config import load_config
from replaygate.run.evaluation import Evaluation
from replaygate.llm.backend import REPLAY_BASE_URL, SIM_BASE_URL, Backend

TOOL_CHAT = {"type": "function", "function": {"name": "lookup", "description": "a customer's plan",
                                              "parameters": {"type": "object", "properties": {"who": {"type": "string"}}}}}
TOOL_RESPONSES = {"type": "function", "name": "lookup", "description": "a customer's plan",
                  "parameters": {"type": "object", "properties": {"who": {"type": "string"}}}}
TASKS = [
    {"id": "ann", "input": {"who": "ann", "question": "What plan am I on?"}, "expected": "gold"},
    {"id": "bob", "input": {"who": "bob", "question": "Which plan do I have?"}, "expected": "basic"},
]
PLANS = {"ann": "gold", "bob": "basic"}


def model(request) -> Reply | ToolCall | str:
    """Asks the tool once if the prompt says to, then answers from the tool's result (or guesses)."""
    if not request.tool_results and "look it up" in request.messages[0]["content"]:
        who = request.messages[-1]["content"].split(":")[0]
        return ToolCall("lookup", {"who": who})
    if request.tool_results:
        return json.loads(request.tool_results[0].output)["plan"]
    return "basic"


async def chat_solver(inp, client, prompt: Prompt):
    messages = list(prompt.messages)
    first = await client.chat.completions.create(**prompt.chat(messages=messages, tools=[TOOL_CHAT]))
    message = first.choices[0].message
    if not message.tool_calls:
        return message.content
    call = message.tool_calls[0]
    who = json.loads(call.function.arguments)["who"]
    messages += [message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"plan": PLANS[who]})}]
    final = await client.chat.completions.create(**prompt.chat(messages=messages, tools=[TOOL_CHAT]))
    return final.choices[0].message.content


def responses_solver(inp, client, prompt: Prompt):
    """Sync, on the Responses API: the harness hands a sync client bridged onto its loop."""
    first = client.responses.create(**prompt.responses(tools=[TOOL_RESPONSES]))
    calls = [item for item in first.output if item.type == "function_call"]
    if not calls:
        return first.output_text
    who = json.loads(calls[0].arguments)["who"]
    follow = [*prompt.messages, *[item.model_dump(exclude_none=True) for item in calls],
              {"type": "function_call_output", "call_id": calls[0].call_id, "output": json.dumps({"plan": PLANS[who]})}]
    return client.responses.create(**prompt.responses(input=follow, tools=[TOOL_RESPONSES])).output_text


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    (tmp_path / "prompt.md").write_text("[system]\nAnswer with the plan name only; look it up.\n[user]\n{who}: {question}\n")
    (tmp_path / "tasks.yaml").write_text("".join(f"- {json.dumps(t)}\n" for t in TASKS))
    return tmp_path


def suite(solver, **more) -> Suite:
    return Suite("plans", solver=solver, tasks="tasks.yaml", prompt="prompt.md", double=FunctionModel(model),
                 graders=[graders.ExactMatch(), graders.ToolCalled("lookup", times=1)], **more)


def run(root: Path, declared: Suite, backend: Backend, record_mode: str = "none"):
    config = load_config(None, {"cassettes": "tapes", "models.agent": "double"}, suite=declared.name,
                         code=declared.code_settings())
    evaluation = Evaluation(declared, config, root, backend, record_mode, {})
    return evaluation, evaluation.run(list(evaluation.loaded.tasks))


SIM = Backend("sim", "double", base_url=SIM_BASE_URL)
REPLAY = Backend("replay", "replay", base_url=REPLAY_BASE_URL)


@pytest.mark.parametrize("solver", [chat_solver, responses_solver], ids=["async-chat", "sync-responses"])
def test_a_solver_is_traced_off_the_wire_recorded_and_replayed(project, solver):
    evaluation, recorded = run(project, suite(solver), SIM, "once")
    assert [r.rollout.answer for r in recorded] == ["gold", "basic"]
    assert all(r.passes(0.8) for r in recorded), [r.score for r in recorded]
    rollout = recorded[0].rollout
    # Read off the wire: two model calls, one tool call with its arguments, tokens counted.
    assert rollout.usage.calls == 2 and rollout.usage.input_tokens > 0 and rollout.usage.output_tokens > 0
    assert [(c.name, json.loads(c.arguments)) for c in rollout.tool_calls] == [("lookup", {"who": "ann"})]
    # The result the solver sent back is matched to its call by id, so optimizer traces show it.
    assert json.loads(rollout.tool_calls[0].result) == {"plan": "gold"}
    assert rollout.final_text == "gold"
    assert sorted(p.name for p in (project / "tapes/plans/double").iterdir()) == ["ann.r0.json", "bob.r0.json"]
    assert evaluation.info().is_simulator  # the double's answers are marked as a stand-in's

    _, replayed = run(project, suite(solver), REPLAY)
    assert [(r.rollout.answer, r.value, r.rollout.usage.calls) for r in replayed] == \
        [(r.rollout.answer, r.value, r.rollout.usage.calls) for r in recorded]


def test_the_prompt_reaches_the_model_and_a_weaker_one_scores_lower(project):
    _, good = run(project, suite(chat_solver), SIM)
    (project / "prompt.md").write_text("[system]\nAnswer with the plan name only.\n[user]\n{who}: {question}\n")
    _, weak = run(project, suite(chat_solver), SIM)
    assert [r.value for r in good] == [1.0, 1.0]
    assert [r.rollout.answer for r in weak] == ["basic", "basic"]  # no lookup: the double guesses
    assert [r.scores["tool_called:lookup"].value for r in weak] == [0.0, 0.0]


def test_inputs_validated_by_a_pydantic_model_name_the_file_line_and_field(project):
    class Question(BaseModel):
        who: str
        question: str

    (project / "tasks.yaml").write_text(f"- {json.dumps(TASKS[0])}\n- {{id: carl, input: {{who: carl}}}}\n")
    with pytest.raises(InputError, match=r"tasks\.yaml:2: task 'carl': input question: Field required; fix the task"):
        run(project, suite(chat_solver, input_model=Question), SIM)


def test_a_prompt_placeholder_no_task_fills_stops_before_any_call(project):
    (project / "prompt.md").write_text("{who} asks {topic}\n")
    with pytest.raises(InputError, match=r"prompt\.md:1: placeholder \{topic\} is not a task input; use one of \{question\}, \{who\}"):
        run(project, suite(chat_solver), SIM)


def test_tasks_in_code_setup_hook_and_defaults(project):
    seen = {}

    def setup(declared: Suite, context):
        seen["tasks"] = [t.id for t in context.tasks]
        seen["plans"] = context.path("plans")
        return declared.replace(graders={"exact": graders.ExactMatch()})

    declared = suite(chat_solver, setup=setup, settings={"plans": "data/plans.json"}).replace(
        tasks=[Task("ann", TASKS[0]["input"], "gold")])
    evaluation, results = run(project, declared, SIM)
    assert seen == {"tasks": ["ann"], "plans": Path("data/plans.json")}
    assert list(results[0].scores) == ["exact"] and evaluation.weights == {"exact": 1.0}


def test_a_suite_is_declared_with_clear_errors():
    with pytest.raises(InputError, match="a suite name is letters, digits, - and _"):
        Suite("my suite", solver=chat_solver)
    with pytest.raises(InputError, match="two graders are named 'exact_match'; pass a dict"):
        Suite("s", solver=chat_solver, graders=[graders.ExactMatch(), graders.ExactMatch()]).named_graders()

    @Suite("s", solver=chat_solver).cases
    def test_x(eval_case):
        pass

    assert test_x.__replaygate_suite__.name == "s"


def test_a_suite_without_a_double_is_refused_under_sim_by_name(project):
    with pytest.raises(InputError, match=r"--llm=sim: suite 'plans' has no offline test double"):
        run(project, suite(chat_solver).replace(double=None), SIM)


@pytest.mark.parametrize("solver", [chat_solver, responses_solver], ids=["async-chat", "sync-responses"])
def test_a_failing_double_fails_the_case_with_the_user_s_own_exception_never_as_infrastructure(project, solver):
    def broken(request):
        raise KeyError("plan")

    from replaygate.core.errors import raised_at

    _, results = run(project, suite(solver).replace(double=FunctionModel(broken)), SIM)
    # The SDK saw a 500, but the bug is the double's: the case fails with it, pointing at the user's line.
    assert all(isinstance(r.failure, KeyError) and r.rollout is None for r in results)
    assert raised_at(results[0].failure).startswith("KeyError: 'plan' at ") and "(in broken)" in raised_at(results[0].failure)
