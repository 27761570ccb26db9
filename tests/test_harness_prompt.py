"""Prompt templates: placeholders, literal braces, sections, checks and versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replaygate.core.prompt import PromptFileError, PromptTemplate, load_prompt


def template(text: str, name: str = "p.md") -> PromptTemplate:
    return PromptTemplate(path=Path(name), text=text)


# --- render --------------------------------------------------------------------------------------


def test_single_message_template_fills_placeholders_and_strips_outer_whitespace():
    t = template("\n  Find a room on {date} at {time} for {attendees} people; {date} again.  \n")
    assert t.placeholders == ["date", "time", "attendees"]
    assert t.render({"date": "2026-03-02", "time": "10:30", "attendees": "6"}) == [
        {"role": "user", "content": "Find a room on 2026-03-02 at 10:30 for 6 people; 2026-03-02 again."}
    ]


def test_double_braces_are_literal_braces_and_not_placeholders():
    t = template("Write {{name}} literally, then {name}.")
    assert t.placeholders == ["name"]
    assert t.render({"name": "Ada"})[0]["content"] == "Write {name} literally, then Ada."


def test_double_braces_are_unescaped_the_same_way_in_every_section_whatever_they_hold():
    text = '[system]\nAnswer as {{"unit": "km"}}.\n[user]\nConvert {amount}: {{"unit": "km"}} and {{{amount}}}\n'
    system, user = template(text).render({"amount": "3"})
    assert system["content"] == 'Answer as {"unit": "km"}.'
    assert user["content"] == 'Convert 3: {"unit": "km"} and {3}'


def test_a_json_example_s_own_closing_braces_are_no_escape():
    t = template('Return {"a": {"b": {x}}} or {{"a": {{"b": 1}}}}.')
    assert t.placeholders == ["x"]
    assert t.render({"x": "1"})[0]["content"] == 'Return {"a": {"b": 1}} or {"a": {"b": 1}}.'


def test_json_examples_are_left_alone():
    text = 'Return JSON: {"score": <0..1>, "reason": "<brief>"} for {output}. Also {not a name} and {1x} and {}.'
    t = template(text)
    assert t.placeholders == ["output"]
    content = t.render({"output": "R-101"})[0]["content"]
    assert content == 'Return JSON: {"score": <0..1>, "reason": "<brief>"} for R-101. Also {not a name} and {1x} and {}.'


def test_system_and_user_sections_become_separate_messages():
    t = template("[system]\nYou pick rooms.\nBe strict.\n\n[user]\nRoom for {attendees} on {date}.\n")
    assert t.render({"attendees": "4", "date": "2026-03-02"}) == [
        {"role": "system", "content": "You pick rooms.\nBe strict."},
        {"role": "user", "content": "Room for 4 on 2026-03-02."},
    ]


def test_section_markers_must_stand_on_their_own_line():
    # "[user]" inside a sentence is text, not a section start.
    t = template("Answer the [user] politely about {date}.")
    assert t.render({"date": "d"}) == [{"role": "user", "content": "Answer the [user] politely about d."}]


def test_sections_with_trailing_spaces_and_empty_bodies():
    t = template("[system]   \n\n[user]\nhello {x}\n")
    assert t.render({"x": "1"}) == [{"role": "user", "content": "hello 1"}]


def test_substituted_values_are_not_read_as_template_syntax():
    t = template("A {a} B {b}")
    content = t.render({"a": "{b}", "b": "\\1 $0 \\g<0>"})[0]["content"]
    # One pass: a value that looks like a placeholder stays as it is; regex escapes mean nothing.
    assert content == "A {b} B \\1 $0 \\g<0>"


def test_values_with_double_braces_are_inserted_verbatim():
    # A task input such as a JSON snippet '{"a": {"b": 1}}' must reach the model unchanged:
    # only the template's own `{{`/`}}` are escapes, not text that came from a value.
    t = template("Input: {payload}")
    payload = '{"a": {"b": 1}} and {{x}}'
    assert t.render({"payload": payload})[0]["content"] == f"Input: {payload}"


def test_values_are_converted_with_str():
    t = template("{n} people, accessible {flag}")
    assert t.render({"n": 6, "flag": True})[0]["content"] == "6 people, accessible True"


# --- check ---------------------------------------------------------------------------------------


def test_check_passes_when_every_placeholder_is_available():
    template("[user]\n{date} {time}\n{{literal}}").check(["date", "time", "unused"])


def test_check_names_file_line_placeholder_and_fix():
    t = template("[system]\nRules.\n\n[user]\nOn {date} for {room_size} people\n", name="prompts/agent.md")
    with pytest.raises(PromptFileError) as info:
        t.check(["date", "attendees"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("prompts/agent.md:5: ")
    assert "placeholder {room_size} is not a task input" in message
    assert "use one of {attendees}, {date}" in message
    assert "write {{room_size}} for literal braces" in message


def test_check_reports_the_first_unknown_placeholder_by_line():
    t = template("line one {ok}\nline two\nline three {bad1} {bad2}\n")
    with pytest.raises(PromptFileError, match=r"^p\.md:3: placeholder \{bad1\}"):
        t.check(["ok"])


def test_check_ignores_literal_braces():
    template("Write {{not_an_input}} here").check([])


# --- load ----------------------------------------------------------------------------------------


def test_load_prompt_reads_the_file(tmp_path):
    path = tmp_path / "agent.md"
    path.write_text("Hello {name}\n", encoding="utf-8")
    t = load_prompt(path)
    assert t.path == path
    assert t.text == "Hello {name}\n"
    assert load_prompt(str(path)).text == t.text


def test_missing_prompt_file_is_one_line_with_path_and_fix(tmp_path):
    path = tmp_path / "prompts" / "nope.md"
    with pytest.raises(PromptFileError) as info:
        load_prompt(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert "prompt file not found" in message
    assert "--prompt" in message


@pytest.mark.parametrize("content", ["", "   \n\t\n"])
def test_empty_prompt_file_is_an_error(tmp_path, content):
    path = tmp_path / "empty.md"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PromptFileError) as info:
        load_prompt(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "prompt file is empty" in str(info.value)


def test_non_utf8_prompt_file_is_an_error(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes(b"caf\xe9 {x}")
    with pytest.raises(PromptFileError, match="not UTF-8"):
        load_prompt(path)


# --- version -------------------------------------------------------------------------------------


def test_version_is_stable_for_the_same_text_and_changes_with_it(tmp_path):
    path = tmp_path / "p.md"
    path.write_text("Find a room for {attendees}.\n", encoding="utf-8")
    v1 = load_prompt(path).version
    assert load_prompt(path).version == v1
    # Same text under another path: same version (the identity is the text).
    assert template("Find a room for {attendees}.\n", name="elsewhere.md").version == v1
    assert len(v1) == 12 and all(c in "0123456789abcdef" for c in v1)

    path.write_text("Find a room for {attendees}!\n", encoding="utf-8")
    assert load_prompt(path).version != v1
    path.write_text("Find a room for {attendees}.\n\n", encoding="utf-8")  # whitespace is text too
    assert load_prompt(path).version != v1


# --- property: render never raises when every placeholder is supplied ----------------------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
pieces = st.one_of(
    st.text(max_size=20),
    NAMES.map(lambda n: "{" + n + "}"),
    NAMES.map(lambda n: "{{" + n + "}}"),
    st.sampled_from(['{"score": 1}', "{", "}", "{{", "}}", "{ x }", "{1}", "[system]\n", "\n[user]\n", "\n"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces, min_size=1, max_size=12).map("".join), st.data())
def test_render_never_raises_when_all_placeholders_are_supplied(text, data):
    t = template(text)
    values = {name: data.draw(st.text(max_size=10), label=name) for name in t.placeholders}
    try:
        t.check(values)
    except PromptFileError as exc:
        # The only refusal left when every placeholder is supplied: text outside any section.
        assert "before the first [system] or [user] line" in str(exc)
        return
    messages = t.render(values)  # what check() accepts, render() can fill
    assert isinstance(messages, list)
    for message in messages:
        assert message["role"] in ("system", "user")
        assert isinstance(message["content"], str)
