"""The cassette library: per-case vcrpy cassettes behind a routing httpx2 transport.

Every test drives the real openai SDK client through `CassetteLibrary.transport()`, with the
simulator (`SimTransport`) or an `httpx2.MockTransport` as the inner transport, so nothing
here opens a socket.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import secrets as pysecrets
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vcr.request import Request

from replaygate.cassettes.cassette import CASE_HEADER, CaseKey, CassetteLibrary, CassetteMiss
from replaygate.cassettes.cassette_format import AtomicPersister, CassetteFileError, ReadableJsonSerializer, clean_uri, scrub_request, scrub_response
from replaygate.cassettes.cassette_match import endpoint_of
from replaygate.cassettes.secrets import secrets_from_env
from replaygate.core.errors import InputError
from replaygate.cassettes.secrets import SecretLeakError
from evals.sim import MODEL_NAME, SimTransport

BASE_URL = "http://model.invalid/v1"


# --- helpers -------------------------------------------------------------------------------------


class Spy(httpx2.AsyncBaseTransport):
    """Counts what reaches the inner transport, then passes it on (or refuses when inner is None)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None):
        self.inner = inner
        self.seen: list[tuple[str, dict[str, str], bytes]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        self.seen.append((str(request.url), dict(request.headers), body))
        if self.inner is None:
            raise AssertionError(f"inner transport reached: {request.method} {request.url}")
        return await self.inner.handle_async_request(request)


def completion(content: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        **extra,
    }


def user_text(request: httpx2.Request) -> str:
    return json.loads(request.content)["messages"][-1]["content"]


def make_client(http: httpx2.AsyncClient, **kwargs: Any) -> openai.AsyncOpenAI:
    kwargs.setdefault("api_key", "sk-test-not-a-real-key")
    kwargs.setdefault("base_url", BASE_URL)
    return openai.AsyncOpenAI(http_client=http, max_retries=0, **kwargs)


async def ask_async(library: CassetteLibrary, key: CaseKey, content: str, client=None, **client_kwargs):
    async with httpx2.AsyncClient(transport=library.transport()) as http:
        client = client(http) if client else make_client(http, **client_kwargs)
        return await client.chat.completions.create(
            model=MODEL_NAME,
            messages=[{"role": "user", "content": content}],
            extra_headers=library.headers_for(key),
        )


def ask(library: CassetteLibrary, key: CaseKey, content: str = "hello", client=None, **client_kwargs):
    return asyncio.run(ask_async(library, key, content, client, **client_kwargs))


def stored(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


KEY = CaseKey("rooms", MODEL_NAME, "case-1")


# --- (a) record, then replay offline ----------------------------------------------------------------


def test_record_then_replay_returns_the_same_response_without_the_inner_transport(tmp_path):
    spy = Spy(SimTransport())
    recorder = CassetteLibrary(tmp_path, "all", spy)
    recorded = ask(recorder, KEY, "hello there")
    path = recorder.finish(KEY)

    assert path == tmp_path / "rooms" / MODEL_NAME / "case-1.r0.json"
    assert path.is_file()
    assert recorder.saved == [path]
    assert len(spy.seen) == 1
    assert CASE_HEADER not in spy.seen[0][1]  # the routing header never leaves the library
    assert recorder.simulator_seen
    text = path.read_text(encoding="utf-8")

    # Replay-only library: inner None means the offline transport, which refuses loudly.
    player = CassetteLibrary(tmp_path, "none", None)
    replayed = ask(player, KEY, "hello there")
    assert replayed.model_dump() == recorded.model_dump()
    assert replayed.choices[0].message.content == recorded.choices[0].message.content
    assert player.finish(KEY) is None  # nothing new: the file is not rewritten
    assert player.simulator_seen  # the stored x-simulator header still marks it
    assert path.read_text(encoding="utf-8") == text

    # With a spy as inner transport: it is never called.
    never = Spy(None)
    again = ask(CassetteLibrary(tmp_path, "none", never), KEY, "hello there")
    assert again.model_dump() == recorded.model_dump()
    assert never.seen == []


def test_once_mode_replays_an_existing_recording_without_sending(tmp_path):
    ask(CassetteLibrary(tmp_path, "once", SimTransport()), KEY, "hi")
    # The library above was not finished: nothing may have been written yet.
    assert not (tmp_path / KEY.relpath).exists()

    recorder = CassetteLibrary(tmp_path, "once", SimTransport())
    first = ask(recorder, KEY, "hi")
    recorder.finish(KEY)
    spy = Spy(None)
    once = CassetteLibrary(tmp_path, "once", spy)
    assert ask(once, KEY, "hi").model_dump() == first.model_dump()
    assert spy.seen == []
    assert once.finish(KEY) is None


def test_replayed_body_is_matched_as_json_not_as_bytes(tmp_path):
    recorder = CassetteLibrary(tmp_path, "once", SimTransport())
    ask(recorder, KEY, "same words")
    recorder.finish(KEY)
    path = tmp_path / KEY.relpath
    # Reformatting the stored file (as an editor might) does not break matching.
    data = stored(path)
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")
    assert ask(CassetteLibrary(tmp_path, "none", None), KEY, "same words").choices[0].message.content


# --- (b) secrets, credentials and cookies never reach the file --------------------------------------

FORBIDDEN_NAMES = ("authorization", "api-key", "cookie", "set-cookie")


def assert_clean(text: str, *values: str) -> None:
    lowered = text.lower()
    for name in FORBIDDEN_NAMES:
        assert name not in lowered, name
    for value in values:
        assert value not in text


def cookie_handler(cookie_value: str):
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200,
            headers={
                "content-type": "application/json",
                "set-cookie": f"__cf_bm={cookie_value}; path=/; HttpOnly",
                "openai-organization": "org-private",
                "x-request-id": "req_123",
            },
            json=completion("fine"),
        )

    return handler


def test_openai_key_request_cookie_and_response_set_cookie_are_not_stored(tmp_path):
    api_key = "sk-test-" + pysecrets.token_hex(16)
    cookie_in, cookie_out = "sid-" + pysecrets.token_hex(8), "cf-" + pysecrets.token_hex(8)
    library = CassetteLibrary(
        tmp_path, "once", httpx2.MockTransport(cookie_handler(cookie_out)), secrets=[("OPENAI_API_KEY", api_key)]
    )
    response = ask(library, KEY, "hi", api_key=api_key, default_headers={"Cookie": f"session={cookie_in}"})
    assert response.choices[0].message.content == "fine"
    path = library.finish(KEY)

    text = path.read_text(encoding="utf-8")
    assert_clean(text, api_key, cookie_in, cookie_out, "org-private")
    interaction = stored(path)["interactions"][0]
    # Allow-lists: only these headers are kept at all.
    assert set(interaction["request"]["headers"]) <= {"content-type", "accept"}
    assert set(interaction["response"]["headers"]) == {"content-type"}
    assert interaction["request"]["uri"] == f"{BASE_URL}/chat/completions"


def test_azure_key_header_key_query_and_userinfo_are_not_stored_but_api_version_is(tmp_path):
    api_key = "azk-" + pysecrets.token_hex(16)
    query_secret = "qs-" + pysecrets.token_hex(12)
    password = "pw-" + pysecrets.token_hex(8)
    spy = Spy(httpx2.MockTransport(cookie_handler("cf-cookie-value-1")))
    library = CassetteLibrary(tmp_path, "once", spy, secrets=[("AZURE_OPENAI_API_KEY", api_key)])

    def azure(http):
        return openai.AsyncAzureOpenAI(
            api_key=api_key,
            azure_endpoint=f"http://deployer:{password}@azure.invalid",
            api_version="2024-10-21",
            azure_deployment="rooms-agent",
            default_query={"api-key": query_secret},
            http_client=http,
            max_retries=0,
        )

    assert ask(library, KEY, "hi", client=azure).choices[0].message.content == "fine"
    # The request really carried every credential (so the test proves the scrubbing).
    url, headers, _ = spy.seen[0]
    assert headers["api-key"] == api_key and "authorization" in headers
    assert query_secret in url and "api-version=2024-10-21" in url

    text = library.finish(KEY).read_text(encoding="utf-8")
    assert_clean(text, api_key, query_secret, password, "deployer", "cf-cookie-value-1")
    uri = json.loads(text)["interactions"][0]["request"]["uri"]
    assert uri == "http://azure.invalid/openai/deployments/rooms-agent/chat/completions?api-version=2024-10-21"

    # The scrubbed recording replays for the same Azure client.
    assert ask(CassetteLibrary(tmp_path, "none", None), KEY, "hi", client=azure).choices[0].message.content == "fine"


def test_clean_uri_keeps_only_allow_listed_query_keys():
    assert clean_uri("https://u:p@h.example:8443/v1/x?API-Version=1&api-key=s&key=t#frag") == (
        "https://h.example:8443/v1/x?API-Version=1"
    )
    assert clean_uri("http://h/v1/x?sig=abc&token=def") == "http://h/v1/x"


def test_clean_uri_keeps_an_ipv6_host_valid():
    # The simulator server may listen on [::1]; the stored URI must stay a parseable URL.
    assert clean_uri("http://[::1]:8080/v1/chat/completions?api-version=1&api-key=x") == (
        "http://[::1]:8080/v1/chat/completions?api-version=1"
    )


def test_endpoint_of_treats_openai_and_azure_paths_alike():
    assert endpoint_of("/v1/chat/completions") == "chat/completions"
    assert endpoint_of("/openai/deployments/my-dep/chat/completions/") == "chat/completions"
    assert endpoint_of("/api/v2beta/embeddings") == "embeddings"
    assert endpoint_of("/chat/completions") == "chat/completions"


def test_secrets_from_env_takes_only_set_names():
    env = {"OPENAI_API_KEY": "sk-1234567890", "AZURE_OPENAI_API_KEY": "", "OTHER": "x"}
    assert secrets_from_env(["OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "MISSING"], env) == [
        ("OPENAI_API_KEY", "sk-1234567890")
    ]


# --- (c) compressed answers are stored decoded ------------------------------------------------------


def test_gzip_response_is_stored_decoded_and_replays(tmp_path):
    body = completion("squeezed answer ünïcode")
    raw = json.dumps(body).encode("utf-8")

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, headers={"content-type": "application/json", "content-encoding": "gzip"}, content=gzip.compress(raw)
        )

    library = CassetteLibrary(tmp_path, "once", httpx2.MockTransport(handler))
    assert ask(library, KEY).choices[0].message.content == "squeezed answer ünïcode"
    path = library.finish(KEY)

    interaction = stored(path)["interactions"][0]
    # Readable JSON, not gzip bytes, and how to lay it out again: the service escaped its non-ASCII letters.
    assert interaction["response"]["body"] == {"json": body, "format": "spaced ascii"}
    assert "content-encoding" not in interaction["response"]["headers"]
    assert "content-length" not in interaction["response"]["headers"]
    replayed = ask(CassetteLibrary(tmp_path, "none", None), KEY)
    assert replayed.choices[0].message.content == "squeezed answer ünïcode"
    assert replayed.usage.total_tokens == 5


# --- (d) misses ------------------------------------------------------------------------------------


def record(tmp_path: Path, key: CaseKey, *contents: str, inner=None) -> Path:
    library = CassetteLibrary(tmp_path, "once", inner or SimTransport())

    async def go():
        for content in contents:
            await ask_async(library, key, content)

    asyncio.run(go())
    return library.finish(key)


def test_changed_request_is_a_miss_naming_case_file_and_json_path(tmp_path):
    path = record(tmp_path, KEY, "book a room for 4")
    spy = Spy(None)
    with pytest.raises(CassetteMiss) as info:
        ask(CassetteLibrary(tmp_path, "none", spy), KEY, "book a room for 5")
    miss = info.value
    message = str(miss)
    assert "\n" not in message
    assert "case case-1 (repeat 0)" in message
    assert str(path) in message
    assert "body.messages[0].content differs" in message
    assert miss.key == KEY and miss.path == path and miss.file_exists
    assert miss.record_mode_hint == "all"
    assert spy.seen == []


def test_miss_names_a_changed_top_level_field(tmp_path):
    record(tmp_path, KEY, "hi")

    async def go():
        library = CassetteLibrary(tmp_path, "none", None)
        async with httpx2.AsyncClient(transport=library.transport()) as http:
            await make_client(http).chat.completions.create(
                model=MODEL_NAME,
                messages=[{"role": "user", "content": "hi"}],
                temperature=0.7,
                extra_headers=library.headers_for(KEY),
            )

    with pytest.raises(CassetteMiss, match=r"body\.temperature differs"):
        asyncio.run(go())


def test_missing_cassette_file_is_a_miss_that_suggests_once(tmp_path):
    with pytest.raises(CassetteMiss) as info:
        ask(CassetteLibrary(tmp_path, "none", Spy(None)), KEY, "hi")
    miss = info.value
    assert "the cassette file does not exist" in str(miss)
    assert str(tmp_path / KEY.relpath) in str(miss)
    assert not miss.file_exists
    assert miss.record_mode_hint == "once"
    assert not (tmp_path / KEY.relpath).exists()


def test_new_request_in_once_mode_with_an_existing_file_is_a_miss(tmp_path):
    record(tmp_path, KEY, "first")
    spy = Spy(SimTransport())
    with pytest.raises(CassetteMiss) as info:
        ask(CassetteLibrary(tmp_path, "once", spy), KEY, "second")
    assert info.value.record_mode_hint == "all"
    assert spy.seen == []


def test_request_sent_more_often_than_recorded_says_it_was_already_played(tmp_path):
    record(tmp_path, KEY, "hi")
    library = CassetteLibrary(tmp_path, "none", None)

    async def twice():
        await ask_async(library, KEY, "hi")
        await ask_async(library, KEY, "hi")

    with pytest.raises(CassetteMiss) as info:
        asyncio.run(twice())
    # Nothing differs from the recording: the message must not claim it does.
    assert "already been played" in info.value.detail


def test_request_outside_any_case_is_refused(tmp_path):
    library = CassetteLibrary(tmp_path, "none", None)

    async def go():
        async with httpx2.AsyncClient(transport=library.transport()) as http:
            await http.post("http://x.invalid/v1/chat/completions", json={})

    # Neither the case header nor a current case (library.case(key)) says which cassette it belongs to.
    with pytest.raises(RuntimeError, match="outside any case cannot be routed to a cassette"):
        asyncio.run(go())


def test_unknown_record_mode_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"--eval-record-mode=sometimes: unknown mode; use one of none, once, new_episodes, all"):
        CassetteLibrary(tmp_path, "sometimes", None)


# --- (e) loading never drops stored interactions -----------------------------------------------------


def test_load_then_save_without_change_keeps_every_interaction_byte_for_byte(tmp_path):
    path = record(tmp_path, KEY, "one", "two", "three")
    before = path.read_bytes()
    assert len(stored(path)["interactions"]) == 3

    for mode in ("none", "once", "new_episodes"):
        library = CassetteLibrary(tmp_path, mode, None)
        library.headers_for(KEY)
        _, cassette = library.cassette(KEY.relpath)
        assert len(cassette) == 3
        cassette._save(force=True)  # vcrpy's own save, through the filters, serializer and persister
        assert path.read_bytes() == before, mode


def test_new_episodes_appends_and_keeps_the_old_ones(tmp_path):
    path = record(tmp_path, KEY, "one", "two")
    old = stored(path)["interactions"]
    spy = Spy(SimTransport())
    library = CassetteLibrary(tmp_path, "new_episodes", spy)

    async def go():
        await ask_async(library, KEY, "one")  # played from the file
        await ask_async(library, KEY, "three")  # recorded

    asyncio.run(go())
    assert [json.loads(body)["messages"][0]["content"] for _, _, body in spy.seen] == ["three"]
    library.finish(KEY)
    new = stored(path)["interactions"]
    assert new[:2] == old
    assert [i["request"]["body"]["json"]["messages"][0]["content"] for i in new] == ["one", "two", "three"]


def test_all_mode_replaces_the_case_file(tmp_path):
    path = record(tmp_path, KEY, "one", "two")
    library = CassetteLibrary(tmp_path, "all", SimTransport())
    ask(library, KEY, "two")
    library.finish(KEY)
    assert [i["request"]["body"]["json"]["messages"][0]["content"] for i in stored(path)["interactions"]] == ["two"]


def vcr_request() -> Request:
    return Request(
        "POST",
        "https://user:pass@api.example/v1/chat/completions?api-version=2024-10-21&api-key=secret-value",
        b'{"model": "m", "messages": []}',
        {
            "Authorization": "Bearer sk-secret",
            "api-key": "secret",
            "Cookie": "a=b",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "x",
        },
    )


def test_before_record_filters_are_idempotent_and_never_drop():
    once = scrub_request(vcr_request())
    twice = scrub_request(once)
    assert once is not None and twice is not None
    assert (twice.method, twice.uri, twice.body, dict(twice.headers)) == (once.method, once.uri, once.body, dict(once.headers))
    assert once.uri == "https://api.example/v1/chat/completions?api-version=2024-10-21"
    assert {k.lower() for k in once.headers} == {"content-type", "accept"}

    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": ["application/json"], "Set-Cookie": ["x=y"], "content-encoding": ["gzip"]},
        "body": {"string": gzip.compress(b'{"a": 1}')},
    }
    first = scrub_response(response)
    second = scrub_response(first)
    assert first == second
    assert first["body"]["string"] == b'{"a": 1}'
    assert {k.lower() for k in first["headers"]} == {"content-type"}
    assert response["headers"]["Set-Cookie"] == ["x=y"]  # the live response is not mutated


# --- (f) corrupt cassette files ------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{ not json", id="not-json"),
        pytest.param("", id="empty-file"),
        pytest.param('{"version": 1, "interactions": 3}', id="interactions-not-a-list"),
        pytest.param('{"version": 1, "interactions": [{"request": {}}]}', id="interaction-without-response"),
        pytest.param("[]", id="json-list"),
        pytest.param('"just a string"', id="json-string"),
    ],
)
def test_corrupt_cassette_file_names_the_file_and_the_fix(tmp_path, content):
    path = tmp_path / KEY.relpath
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="utf-8")
    library = CassetteLibrary(tmp_path, "none", None)
    with pytest.raises(CassetteFileError) as info:
        ask(library, KEY)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: not a readable cassette")
    assert "restore it from git or delete it and re-record with --eval-record-mode=once" in message
    assert path.read_text(encoding="utf-8") == content  # never "repaired" behind the user's back


def test_corrupt_cassette_is_reported_even_when_recording(tmp_path):
    path = tmp_path / KEY.relpath
    path.parent.mkdir(parents=True)
    path.write_text("{ not json", encoding="utf-8")
    spy = Spy(SimTransport())
    with pytest.raises(CassetteFileError):
        ask(CassetteLibrary(tmp_path, "new_episodes", spy), KEY)
    assert spy.seen == []
    assert path.read_text(encoding="utf-8") == "{ not json"


# --- (g) the persister's secret scan -----------------------------------------------------------------


def cassette_dict(body_text: str) -> dict[str, Any]:
    request = Request("POST", "http://x.invalid/v1/chat/completions", json.dumps({"messages": [{"content": body_text}]}), {})
    response = {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": json.dumps(completion("ok"))}}
    return {"requests": [request], "responses": [response]}


def test_persister_refuses_to_write_a_secret_and_leaves_the_old_file(tmp_path):
    secret = "sk-live-" + pysecrets.token_hex(12)
    path = tmp_path / "c.json"
    persister = AtomicPersister([("OPENAI_API_KEY", secret)])
    persister.save_cassette(path, cassette_dict("harmless"), ReadableJsonSerializer)
    before = path.read_bytes()

    with pytest.raises(SecretLeakError) as info:
        persister.save_cassette(path, cassette_dict(f"my key is {secret}"), ReadableJsonSerializer)
    message = str(info.value)
    assert "$OPENAI_API_KEY" in message and str(path) in message
    assert secret not in message  # the error must not print the secret either
    assert "\n" not in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]  # no temp file left behind


def test_persister_ignores_values_shorter_than_eight_characters(tmp_path):
    persister = AtomicPersister([("SHORT", "abc1234"), ("EMPTY", "")])
    path = tmp_path / "c.json"
    persister.save_cassette(path, cassette_dict("abc1234 appears"), ReadableJsonSerializer)
    assert "abc1234" in path.read_text(encoding="utf-8")


def test_library_refuses_to_save_a_case_whose_prompt_holds_a_secret(tmp_path):
    secret = "sk-test-" + pysecrets.token_hex(10)
    library = CassetteLibrary(tmp_path, "once", SimTransport(), secrets=[("OPENAI_API_KEY", secret)])
    ask(library, KEY, f"please use {secret}")
    with pytest.raises(SecretLeakError):
        library.finish(KEY)
    assert not (tmp_path / KEY.relpath).exists()


# --- (h) repeats --------------------------------------------------------------------------------------


def test_repeats_and_models_map_to_separate_files():
    r0 = CaseKey("rooms", "gpt-4.1", "t1", 0)
    r1 = CaseKey("rooms", "gpt-4.1", "t1", 1)
    assert r0.relpath == "rooms/gpt-4.1/t1.r0.json"
    assert r1.relpath == "rooms/gpt-4.1/t1.r1.json"
    # Model names cannot create directories or odd file names.
    assert CaseKey("rooms", "org/model:latest", "t1").relpath == "rooms/org_model_latest/t1.r0.json"
    assert CaseKey("rooms", "///", "t1").relpath == "rooms/model/t1.r0.json"


def test_identical_requests_in_different_repeats_replay_their_own_recording(tmp_path):
    counter = iter(range(100))

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=completion(f"answer-{next(counter)}"))

    keys = [CaseKey("rooms", MODEL_NAME, "t1", repeat) for repeat in (0, 1)]
    recorder = CassetteLibrary(tmp_path, "once", httpx2.MockTransport(handler))
    recorded = [ask(recorder, key, "identical body").choices[0].message.content for key in keys]
    paths = [recorder.finish(key) for key in keys]
    assert recorded == ["answer-0", "answer-1"]
    assert paths[0] != paths[1] and all(p.is_file() for p in paths)

    player = CassetteLibrary(tmp_path, "none", None)
    # Replay in the other order: each repeat still gets its own answer.
    assert ask(player, keys[1], "identical body").choices[0].message.content == "answer-1"
    assert ask(player, keys[0], "identical body").choices[0].message.content == "answer-0"


# --- (i) concurrent cases through one library --------------------------------------------------------


def test_twenty_concurrent_cases_each_get_their_own_file(tmp_path):
    async def handler(request: httpx2.Request) -> httpx2.Response:
        text = user_text(request)
        for _ in range(len(text) % 5):
            await asyncio.sleep(0)  # interleave the cases
        return httpx2.Response(200, json=completion(f"echo {text}"))

    keys = [CaseKey("rooms", MODEL_NAME, f"case-{n:02d}") for n in range(20)]

    async def run_all(library: CassetteLibrary) -> dict[str, list[str]]:
        async with httpx2.AsyncClient(transport=library.transport()) as http:
            client = make_client(http)

            async def one(key: CaseKey) -> list[str]:
                answers = []
                for step in range(2):
                    response = await client.chat.completions.create(
                        model=MODEL_NAME,
                        messages=[{"role": "user", "content": f"{key.case_id} step {step}"}],
                        extra_headers=library.headers_for(key),
                    )
                    answers.append(response.choices[0].message.content)
                    await asyncio.sleep(0)
                return answers

            results = await asyncio.gather(*(one(key) for key in keys))
        return {key.case_id: answers for key, answers in zip(keys, results)}

    recorder = CassetteLibrary(tmp_path, "once", httpx2.MockTransport(handler))
    live = asyncio.run(run_all(recorder))
    paths = [recorder.finish(key) for key in keys]

    assert len(set(paths)) == 20
    for key, path in zip(keys, paths):
        interactions = stored(path)["interactions"]
        sent = [i["request"]["body"]["json"]["messages"][0]["content"] for i in interactions]
        got = [i["response"]["body"]["json"]["choices"][0]["message"]["content"] for i in interactions]
        assert sent == [f"{key.case_id} step 0", f"{key.case_id} step 1"]
        assert got == [f"echo {key.case_id} step 0", f"echo {key.case_id} step 1"]
        assert live[key.case_id] == got

    replayed = asyncio.run(run_all(CassetteLibrary(tmp_path, "none", None)))
    assert replayed == live


# --- (j) error answers are not recorded --------------------------------------------------------------


def test_non_2xx_responses_are_never_recorded(tmp_path):
    statuses = iter([500, 429, 200])

    def handler(request: httpx2.Request) -> httpx2.Response:
        status = next(statuses)
        if status != 200:
            return httpx2.Response(status, json={"error": {"message": f"status {status}", "type": "server_error"}})
        return httpx2.Response(200, json=completion("finally"))

    library = CassetteLibrary(tmp_path, "once", httpx2.MockTransport(handler))
    with pytest.raises(openai.InternalServerError):
        ask(library, KEY, "try 1")
    with pytest.raises(openai.RateLimitError):
        ask(library, KEY, "try 2")
    assert ask(library, KEY, "try 3").choices[0].message.content == "finally"
    path = library.finish(KEY)

    interactions = stored(path)["interactions"]
    assert len(interactions) == 1
    assert interactions[0]["response"]["status"]["code"] == 200
    assert interactions[0]["request"]["body"]["json"]["messages"][0]["content"] == "try 3"


def test_record_errors_keeps_the_failed_attempts_and_replays_the_same_outcome(tmp_path):
    statuses = iter([500, 200])

    def handler(request: httpx2.Request) -> httpx2.Response:
        if next(statuses) == 500:
            return httpx2.Response(500, headers={"retry-after-ms": "1"}, json={"error": {"message": "down", "type": "server_error"}})
        return httpx2.Response(200, json=completion("after a retry"))

    def retrying(http: httpx2.AsyncClient) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(http_client=http, max_retries=2, api_key="sk-test-not-a-real-key", base_url=BASE_URL)

    recorder = CassetteLibrary(tmp_path, "once", httpx2.MockTransport(handler), record_errors=True)
    assert ask(recorder, KEY, client=retrying).choices[0].message.content == "after a retry"
    codes = [i["response"]["status"]["code"] for i in stored(recorder.finish(KEY))["interactions"]]
    assert codes == [500, 200]
    # The replay meets the same 500 first and retries past it, as the live run did.
    replayed = ask(CassetteLibrary(tmp_path, "none", None, record_errors=True), KEY, client=retrying)
    assert replayed.choices[0].message.content == "after a retry"


def test_a_case_that_only_got_errors_writes_no_file(tmp_path):
    library = CassetteLibrary(tmp_path, "once", httpx2.MockTransport(lambda r: httpx2.Response(503, json={})))
    with pytest.raises(openai.APIStatusError):
        ask(library, KEY)
    assert library.finish(KEY) is None
    assert not (tmp_path / KEY.relpath).exists()
    assert library.saved == []


def test_finish_with_keep_false_writes_nothing(tmp_path):
    library = CassetteLibrary(tmp_path, "once", SimTransport())
    ask(library, KEY)
    assert library.finish(KEY, keep=False) is None
    assert not (tmp_path / KEY.relpath).exists()


def test_label_is_stored_as_metadata(tmp_path):
    library = CassetteLibrary(tmp_path, "once", SimTransport(), label="backend A")
    ask(library, KEY)
    path = library.finish(KEY)
    assert stored(path)["metadata"] == {"recorded_with": "backend A"}
    # A replay-only load keeps it.
    assert ask(CassetteLibrary(tmp_path, "none", None, label="replay"), KEY).choices


def test_rerecording_in_all_mode_stores_the_new_backend_label(tmp_path):
    first = CassetteLibrary(tmp_path, "all", SimTransport(), label="simulator")
    ask(first, KEY)
    first.finish(KEY)
    second = CassetteLibrary(tmp_path, "all", httpx2.MockTransport(lambda r: httpx2.Response(200, json=completion("real"))), label="openai")
    ask(second, KEY)
    path = second.finish(KEY)
    assert stored(path)["interactions"][0]["response"]["body"]["json"]["choices"][0]["message"]["content"] == "real"
    # The file now holds only answers from the second backend; its label must say so.
    assert stored(path)["metadata"]["recorded_with"] == "openai"


# --- (k) the readable serializer ----------------------------------------------------------------------

json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_value = st.recursive(
    json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=15
)
body_text = st.one_of(json_value.map(json.dumps), st.text(), st.none())


def interaction(request_body, response_body) -> dict[str, Any]:
    return {
        "request": {"body": request_body, "headers": {"content-type": ["application/json"]}, "method": "POST", "uri": "http://x/v1/chat/completions"},
        "response": {"body": {"string": response_body}, "headers": {}, "status": {"code": 200, "message": "OK"}},
    }


def as_json(text):
    if text is None:
        return None
    try:
        return ("json", json.loads(text))
    except ValueError:
        return ("raw", text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(body_text, body_text.filter(lambda b: b is not None)), min_size=1, max_size=3))
def test_serializer_round_trips_bodies_as_json_values(bodies):
    data = {"version": 1, "interactions": [interaction(req, resp) for req, resp in bodies]}
    text = ReadableJsonSerializer.serialize(data)
    back = ReadableJsonSerializer.deserialize(text)
    assert len(back["interactions"]) == len(bodies)
    for (req, resp), got in zip(bodies, back["interactions"]):
        assert as_json(got["request"]["body"]) == as_json(req)
        assert as_json(got["response"]["body"]["string"]) == as_json(resp)
        assert got["request"]["uri"] == "http://x/v1/chat/completions"
    # Serializing what was read gives the same text: a load/save cycle is a no-op on disk.
    assert ReadableJsonSerializer.serialize(back) == text


def test_serializer_writes_sorted_keys_and_readable_json_bodies():
    data = {
        "version": 1,
        "interactions": [interaction('{"z": 1, "a": {"y": 2, "b": 3}}', '{"choices": [], "id": "x"}')],
    }
    text = ReadableJsonSerializer.serialize(data)
    assert text.endswith("\n")

    def check_sorted(pairs):
        keys = [k for k, _ in pairs]
        assert keys == sorted(keys), keys
        return dict(pairs)

    parsed = json.loads(text, object_pairs_hook=check_sorted)
    assert parsed["interactions"][0]["request"]["body"] == {"json": {"a": {"b": 3, "y": 2}, "z": 1}}
    assert parsed["interactions"][0]["response"]["body"] == {"json": {"choices": [], "id": "x"}}
    assert text.index('"a"') < text.index('"z"')


def test_serializer_keeps_non_json_bodies_as_text():
    data = {"version": 1, "interactions": [interaction("plain words", "<html>oops</html>")]}
    parsed = json.loads(ReadableJsonSerializer.serialize(data))["interactions"][0]
    assert parsed["request"]["body"] == "plain words"
    assert parsed["response"]["body"] == {"string": "<html>oops</html>"}
