"""`AgentsModel`: a stateful double of a hosted agent service (threads, messages, runs), as an in-process httpx2 transport.

It serves the wire of the Azure AI Foundry Agent Service (`azure-ai-agents`, `{endpoint}/threads...?api-version=v1`)
and of the OpenAI Assistants API (`client.beta.threads`, `/v1/threads...`): create an assistant and a thread, post
messages, start a run, poll it until it completes or asks for tool outputs, submit them, list the messages. Each run
step asks the suite's function, as `FunctionModel` does: `fn(request)` gets the thread as a chat request (the run's
instructions, the thread's messages, this run's tool calls and results) and returns text, `ToolCall`s or a `Reply`.

State is kept per case and ids are counters per case (`thread_1`, `run_1`), so a re-recording gives the same bytes
and concurrent cases never see each other's threads. Any other request (chat completions, Responses, a judge's
call) goes to a `FunctionModel` of the same function.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx2

from replaygate.double.reply import Reply, UnsupportedReply, as_reply, encode, error_body, prompt_words, reply_words
from replaygate.double.request import ModelRequest, RequestError, content_text, parse_request
from replaygate.double.transport import ERROR_HEADERS, HEADERS, FunctionModel, FunctionTransport, ReplyFunction, _wait
from replaygate.llm.trace import CURRENT_TRACE

# Statuses a poller waits through; every other status is final (or asks the client to act).
WORKING = ("queued", "in_progress")
FINAL = ("completed", "failed", "cancelled", "expired", "incomplete")

_ASSISTANT = re.compile(r"/assistants(?:/(?P<id>[^/]+))?$")
_THREAD = re.compile(
    r"/threads(?:/(?P<thread>[^/]+))?(?:/(?P<kind>messages|runs)(?:/(?P<item>[^/]+))?(?:/(?P<action>submit_tool_outputs|cancel|steps))?)?$"
)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class ServiceError(Exception):
    """An answer the service gives instead of the object asked for: (status, message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class AgentsModel:
    """A hosted agent service whose every run step is answered by `fn(request)`; calling it makes a transport.

    `polls` is how many status requests see a run queued or in progress before it moves on: real services take
    a while, and recordings must replay repeated identical polls in order.
    """

    def __init__(self, fn: ReplyFunction | FunctionModel, *, polls: int = 1, name: str | None = None):
        model = fn if isinstance(fn, FunctionModel) else FunctionModel(fn, name=name) if callable(fn) else None
        if model is None:
            raise TypeError(f"AgentsModel needs a function of a ModelRequest, got {type(fn).__name__}")
        if not isinstance(polls, int) or isinstance(polls, bool) or polls < 0:
            raise ValueError(f"AgentsModel polls must be an int of 0 or more, got {polls!r}")
        self.model = model
        self.fn = model.fn
        self.polls = polls
        self.name = name or model.name
        self.label = f"agents test double {self.name} (in-process; not a real model)"

    def __call__(self) -> "AgentsTransport":
        return AgentsTransport(self)

    def __repr__(self) -> str:
        return f"AgentsModel({self.name}, polls={self.polls})"


@dataclass
class Run:
    id: str
    thread_id: str
    assistant_id: str
    created_at: int
    model: str
    instructions: str
    tools: list[dict[str, Any]]
    body: dict[str, Any]
    status: str = "queued"
    polls_left: int = 0
    started_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    cancelled_at: int | None = None
    last_error: dict[str, Any] | None = None
    # This run's own turns, in chat form: assistant tool calls and the tool results sent back.
    exchange: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)  # the tool calls awaiting outputs, as on the wire
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stepping: bool = False


@dataclass
class CaseState:
    """One case's service: its objects by id, and the counters its ids and clock come from."""

    counters: dict[str, int] = field(default_factory=dict)
    clock: int = 0
    assistants: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # thread id -> its messages, oldest first
    runs: dict[str, Run] = field(default_factory=dict)

    def new_id(self, prefix: str) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}_{self.counters[prefix]}"

    def tick(self) -> int:
        """A logical clock: creation order is time order, and the same calls give the same stamps."""
        self.clock += 1
        return self.clock


def _namespace() -> object:
    # The case's own trace (one per case and repeat, in every mode); one shared space outside any case.
    trace = CURRENT_TRACE.get()
    return ("trace", id(trace)) if trace is not None else ""


class AgentsTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Sync and async transport: the agents routes statefully, everything else through a `FunctionModel`."""

    def __init__(self, model: AgentsModel):
        self.model = model
        self.label = model.label
        self.plain = FunctionTransport(model.model)
        self._cases: dict[object, CaseState] = {}
        self._lock = threading.Lock()

    def state(self) -> CaseState:
        """The current case's state (created on first use)."""
        with self._lock:
            return self._cases.setdefault(_namespace(), CaseState())

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        if not self._serves(request):
            return self.plain.handle_request(request)
        status, payload = self._drive_sync(self._handle(request))
        return self._respond(request, status, payload)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        if not self._serves(request):
            return await self.plain.handle_async_request(request)
        status, payload = await self._drive_async(self._handle(request))
        return self._respond(request, status, payload)

    # A request is handled by a generator that yields a ModelRequest whenever a run step needs the function's
    # answer and gets back the value (or the exception) it produced; sync and async drive it alike.
    def _drive_sync(self, step) -> tuple[int, dict[str, Any]]:
        sent: Any = None
        while True:
            try:
                asked = step.send(sent)
            except StopIteration as done:
                return done.value
            try:
                value = self.model.fn(asked)
                sent = _wait(value) if inspect.isawaitable(value) else value
            except Exception as exc:  # noqa: BLE001 - the user's failure fails the run, as a service's would
                sent = exc

    async def _drive_async(self, step) -> tuple[int, dict[str, Any]]:
        sent: Any = None
        while True:
            try:
                asked = step.send(sent)
            except StopIteration as done:
                return done.value
            try:
                value = self.model.fn(asked)
                sent = await value if inspect.isawaitable(value) else value
            except Exception as exc:  # noqa: BLE001 - the user's failure fails the run, as a service's would
                sent = exc

    def _serves(self, request: httpx2.Request) -> bool:
        path = request.url.path.rstrip("/")
        return bool(_ASSISTANT.search(path) or _THREAD.search(path))

    def _respond(self, request: httpx2.Request, status: int, payload: dict[str, Any]) -> httpx2.Response:
        headers = HEADERS if status < 400 else ERROR_HEADERS
        return httpx2.Response(status, headers=headers, content=encode(payload), request=request)

    def _handle(self, request: httpx2.Request):
        try:
            body = self._body(request)
            query = dict(request.url.params)
            state = self.state()
            path = request.url.path.rstrip("/")
            found = _ASSISTANT.search(path)
            if found:
                return (200, self._assistants(state, request.method, found["id"], body, query))
            found = _THREAD.search(path)
            thread, kind, item, action = found["thread"], found["kind"], found["item"], found["action"]
            if thread == "runs" and kind is None and request.method == "POST":
                result = yield from self._thread_and_run(state, body)
                return (200, result)
            if kind is None:
                return (200, self._threads(state, request.method, thread, body))
            self._thread(state, thread)
            if kind == "messages":
                return (200, self._messages(state, request.method, thread, item, body, query))
            result = yield from self._runs(state, request.method, thread, item, action, body, query)
            return (200, result)
        except ServiceError as exc:
            kind = "not_found" if exc.status == 404 else "invalid_request_error"
            return (exc.status, error_body(_one_line(str(exc)), kind))

    def _body(self, request: httpx2.Request) -> dict[str, Any]:
        if request.method not in ("POST", "PUT", "PATCH") or not request.content:
            return {}
        try:
            body = json.loads(request.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ServiceError(400, f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ServiceError(400, f"request body must be a JSON object, got {type(body).__name__}")
        if body.get("stream"):
            raise ServiceError(400, "streaming runs are not supported by the agents test double; start the run "
                                    "without stream=True and poll it")
        return body

    # Assistants (agents) ------------------------------------------------------------------------------------------

    def _assistants(self, state: CaseState, method: str, assistant_id: str | None, body: dict, query: dict) -> dict:
        if assistant_id is None:
            if method == "GET":
                return _page(list(state.assistants.values()), query)
            if method != "POST":
                raise _no_route(method, "/assistants")
            assistant = {
                "id": state.new_id("asst"), "object": "assistant", "created_at": state.tick(),
                "name": body.get("name"), "description": body.get("description"), "model": body.get("model") or "",
                "instructions": body.get("instructions"), "tools": _list(body.get("tools")),
                "tool_resources": body.get("tool_resources") or {}, "temperature": body.get("temperature", 1.0),
                "top_p": body.get("top_p", 1.0), "response_format": body.get("response_format") or "auto",
                "metadata": body.get("metadata") or {},
            }
            state.assistants[assistant["id"]] = assistant
            return assistant
        assistant = state.assistants.get(assistant_id)
        if assistant is None:
            raise ServiceError(404, f"no assistant {assistant_id!r} in this case; create it first")
        if method == "GET":
            return assistant
        if method == "POST":
            assistant.update({k: v for k, v in body.items() if k in assistant and k not in ("id", "object", "created_at")})
            return assistant
        if method == "DELETE":
            del state.assistants[assistant_id]
            return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}
        raise _no_route(method, f"/assistants/{assistant_id}")

    # Threads and messages -----------------------------------------------------------------------------------------

    def _thread(self, state: CaseState, thread_id: str) -> dict:
        thread = state.threads.get(thread_id)
        if thread is None:
            raise ServiceError(404, f"no thread {thread_id!r} in this case; create it first")
        return thread

    def _new_thread(self, state: CaseState, body: dict) -> dict:
        thread = {"id": state.new_id("thread"), "object": "thread", "created_at": state.tick(),
                  "metadata": body.get("metadata") or {}, "tool_resources": body.get("tool_resources") or {}}
        state.threads[thread["id"]] = thread
        state.messages[thread["id"]] = []
        for message in _list(body.get("messages")):
            self._new_message(state, thread["id"], message)
        return thread

    def _threads(self, state: CaseState, method: str, thread_id: str | None, body: dict) -> dict:
        if thread_id is None:
            if method != "POST":
                raise _no_route(method, "/threads")
            return self._new_thread(state, body)
        thread = self._thread(state, thread_id)
        if method == "GET":
            return thread
        if method == "POST":
            if "metadata" in body:
                thread["metadata"] = body["metadata"] or {}
            return thread
        if method == "DELETE":
            del state.threads[thread_id]
            state.messages.pop(thread_id, None)
            return {"id": thread_id, "object": "thread.deleted", "deleted": True}
        raise _no_route(method, f"/threads/{thread_id}")

    def _new_message(self, state: CaseState, thread_id: str, body: Any, *, run: Run | None = None) -> dict:
        if not isinstance(body, dict):
            raise ServiceError(400, f"a message must be a JSON object, got {type(body).__name__}")
        role = body.get("role", "user")
        if role not in ("user", "assistant"):
            raise ServiceError(400, f"a message's role is user or assistant, got {role!r}")
        content = body.get("content")
        if not isinstance(content, (str, list)):
            raise ServiceError(400, "a message needs 'content': a string or a list of content blocks")
        stamp = state.tick()
        message = {
            "id": state.new_id("msg"), "object": "thread.message", "created_at": stamp, "thread_id": thread_id,
            "status": "completed", "incomplete_details": None, "completed_at": stamp, "incomplete_at": None,
            "role": role, "content": [_text_block(content_text(content))],
            "assistant_id": run.assistant_id if run else None, "run_id": run.id if run else None,
            "attachments": _list(body.get("attachments")), "metadata": body.get("metadata") or {},
        }
        state.messages[thread_id].append(message)
        return message

    def _messages(self, state: CaseState, method: str, thread_id: str, message_id: str | None, body: dict,
                  query: dict) -> dict:
        messages = state.messages[thread_id]
        if message_id is None:
            if method == "POST":
                if any(run.thread_id == thread_id and run.status in (*WORKING, "requires_action")
                       for run in state.runs.values()):
                    raise ServiceError(400, f"thread {thread_id} has an active run; wait for it to finish "
                                            "before adding a message")
                return self._new_message(state, thread_id, body)
            if method == "GET":
                run_id = query.get("run_id")
                chosen = [m for m in messages if run_id is None or m["run_id"] == run_id]
                return _page(chosen, query)
            raise _no_route(method, f"/threads/{thread_id}/messages")
        found = next((m for m in messages if m["id"] == message_id), None)
        if found is None:
            raise ServiceError(404, f"no message {message_id!r} in thread {thread_id}")
        if method == "GET":
            return found
        raise _no_route(method, f"/threads/{thread_id}/messages/{message_id}")

    # Runs -----------------------------------------------------------------------------------------------------------

    def _thread_and_run(self, state: CaseState, body: dict):
        thread = self._new_thread(state, body.get("thread") if isinstance(body.get("thread"), dict) else {})
        run = self._new_run(state, thread["id"], body)
        return (yield from self._advance(state, run, created=True))

    def _new_run(self, state: CaseState, thread_id: str, body: dict) -> Run:
        assistant_id = body.get("assistant_id")
        assistant = state.assistants.get(assistant_id) if isinstance(assistant_id, str) else None
        if assistant is None:
            raise ServiceError(404, f"no assistant {assistant_id!r} in this case; create it (POST /assistants) "
                                    "and start the run with its id")
        if any(run.thread_id == thread_id and run.status in (*WORKING, "requires_action") for run in state.runs.values()):
            raise ServiceError(400, f"thread {thread_id} already has an active run; wait for it to finish")
        for message in _list(body.get("additional_messages")):
            self._new_message(state, thread_id, message)
        instructions = body.get("instructions")
        instructions = instructions if isinstance(instructions, str) else assistant.get("instructions") or ""
        if isinstance(body.get("additional_instructions"), str) and body["additional_instructions"]:
            instructions = f"{instructions}\n\n{body['additional_instructions']}" if instructions else body["additional_instructions"]
        tools = body.get("tools") if isinstance(body.get("tools"), list) else assistant.get("tools") or []
        run = Run(id=state.new_id("run"), thread_id=thread_id, assistant_id=assistant["id"], created_at=state.tick(),
                  model=body.get("model") or assistant.get("model") or "", instructions=instructions, tools=tools,
                  body=body, polls_left=self.model.polls)
        state.runs[run.id] = run
        return run

    def _runs(self, state: CaseState, method: str, thread_id: str, run_id: str | None, action: str | None, body: dict,
              query: dict):
        if run_id is None:
            if method == "POST":
                run = self._new_run(state, thread_id, body)
                return (yield from self._advance(state, run, created=True))
            if method == "GET":
                return _page([_run_object(r) for r in state.runs.values() if r.thread_id == thread_id], query)
            raise _no_route(method, f"/threads/{thread_id}/runs")
        run = state.runs.get(run_id)
        if run is None or run.thread_id != thread_id:
            raise ServiceError(404, f"no run {run_id!r} in thread {thread_id}")
        if action is None and method == "GET":
            return (yield from self._advance(state, run))
        if action == "submit_tool_outputs" and method == "POST":
            self._submit(run, body)
            run.status, run.polls_left = "queued", self.model.polls
            return (yield from self._advance(state, run, created=True))
        if action == "cancel" and method == "POST":
            if run.status in FINAL:
                raise ServiceError(400, f"run {run_id} is already {run.status}; only a queued, running or waiting run "
                                        "can be cancelled")
            run.status, run.cancelled_at, run.pending = "cancelled", state.tick(), []
            return _run_object(run)
        raise _no_route(method, f"/threads/{thread_id}/runs/{run_id}" + (f"/{action}" if action else ""))

    def _submit(self, run: Run, body: dict) -> None:
        if run.status != "requires_action":
            raise ServiceError(400, f"run {run.id} is {run.status}, not requires_action: it awaits no tool outputs")
        outputs = body.get("tool_outputs")
        if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
            raise ServiceError(400, "submit_tool_outputs needs 'tool_outputs': a list of {tool_call_id, output}")
        waiting = {call["id"] for call in run.pending}
        given = [str(o.get("tool_call_id") or "") for o in outputs]
        if sorted(given) != sorted(waiting):
            raise ServiceError(400, f"run {run.id} awaits outputs for {', '.join(sorted(waiting))}; got "
                                    f"{', '.join(given) or 'none'}: send one output per tool call")
        for output in outputs:
            text = output.get("output")
            run.exchange.append({"role": "tool", "tool_call_id": output["tool_call_id"],
                                 "content": text if isinstance(text, str) else json.dumps(text)})
        run.pending = []

    def _advance(self, state: CaseState, run: Run, created: bool = False):
        """A status request: a working run waits out its polls, then takes one model step."""
        if created or run.status not in WORKING or run.stepping:
            return _run_object(run)
        if run.polls_left > 0:
            run.polls_left -= 1
            run.status = "in_progress"
            run.started_at = run.started_at or state.tick()
            return _run_object(run)
        run.stepping = True
        try:
            request = self._model_request(state, run)
            value = yield request
        finally:
            run.stepping = False
        run.started_at = run.started_at or state.tick()
        try:
            if isinstance(value, Exception):
                raise value
            reply = as_reply(value)
        except UnsupportedReply as exc:
            return self._fail(state, run, f"agents test double {self.model.name} {_one_line(str(exc))}")
        except Exception as exc:  # noqa: BLE001 - the function's own failure
            detail = _one_line(str(exc))
            return self._fail(state, run, f"agents test double {self.model.name} raised {type(exc).__name__}"
                                          + (f": {detail}" if detail else ""))
        run.prompt_tokens += prompt_words(request)
        run.completion_tokens += reply_words(reply)
        if reply.tool_calls:
            self._ask_for_tools(state, run, reply)
        else:
            self._new_message(state, run.thread_id, {"role": "assistant", "content": reply.text or ""}, run=run)
            run.status, run.completed_at = "completed", state.tick()
        return _run_object(run)

    def _ask_for_tools(self, state: CaseState, run: Run, reply: Reply) -> None:
        calls = [{"id": state.new_id("call"), "type": "function",
                  "function": {"name": call.name, "arguments": call.arguments_json}} for call in reply.tool_calls]
        run.exchange.append({"role": "assistant", "content": reply.text, "tool_calls": calls})
        run.pending = calls
        run.status = "requires_action"

    def _fail(self, state: CaseState, run: Run, message: str) -> dict:
        run.status, run.failed_at = "failed", state.tick()
        run.last_error = {"code": "server_error", "message": message}
        return _run_object(run)

    def _model_request(self, state: CaseState, run: Run) -> ModelRequest:
        """The thread as the model sees it, in chat form: instructions, the thread's messages, this run's tool turns."""
        messages: list[dict[str, Any]] = []
        if run.instructions:
            messages.append({"role": "system", "content": run.instructions})
        for message in state.messages[run.thread_id]:
            messages.append({"role": message["role"], "content": _message_text(message)})
        messages.extend(run.exchange)
        body: dict[str, Any] = {"model": run.model, "messages": messages, "tools": run.tools}
        for key in ("temperature", "top_p", "response_format", "tool_choice", "parallel_tool_calls"):
            if key in run.body:
                body[key] = run.body[key]
        try:
            return parse_request("chat", body)
        except RequestError as exc:
            raise ServiceError(400, str(exc)) from None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"value": text, "annotations": []}}


def _message_text(message: dict[str, Any]) -> str:
    return "\n".join(block["text"]["value"] for block in message["content"] if block.get("type") == "text")


def _no_route(method: str, path: str) -> ServiceError:
    return ServiceError(404, f"no route for {method} {path}; the agents test double serves assistants, threads, "
                             "messages and runs (create, get, list, submit_tool_outputs, cancel)")


def _page(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """A list page as the service pages: `order` (desc by default), `after`/`before` cursors, `limit` (20)."""
    ordered = sorted(items, key=lambda item: item["created_at"], reverse=query.get("order", "desc") != "asc")
    ids = [item["id"] for item in ordered]
    if query.get("after") in ids:
        ordered = ordered[ids.index(query["after"]) + 1:]
    if query.get("before") in ids:
        ordered = ordered[: ids.index(query["before"])]
    try:
        limit = max(1, min(100, int(query.get("limit", 20))))
    except ValueError:
        raise ServiceError(400, f"limit={query['limit']!r} is not a number from 1 to 100") from None
    page = ordered[:limit]
    return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None, "has_more": len(ordered) > limit}


def _run_object(run: Run) -> dict[str, Any]:
    body = run.body
    finished = run.status in ("completed", "failed", "incomplete")
    required = None
    if run.status == "requires_action":
        required = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": run.pending}}
    return {
        "id": run.id, "object": "thread.run", "created_at": run.created_at, "assistant_id": run.assistant_id,
        "thread_id": run.thread_id, "status": run.status, "started_at": run.started_at, "expires_at": None,
        "cancelled_at": run.cancelled_at, "failed_at": run.failed_at, "completed_at": run.completed_at,
        "required_action": required, "last_error": run.last_error, "model": run.model,
        "instructions": run.instructions, "tools": run.tools, "metadata": body.get("metadata") or {},
        "incomplete_details": None,
        # As the service does: a run's usage covers all its steps and appears once the run has ended.
        "usage": {"prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens,
                  "total_tokens": run.prompt_tokens + run.completion_tokens} if finished else None,
        "temperature": body.get("temperature", 1.0), "top_p": body.get("top_p", 1.0),
        "max_prompt_tokens": body.get("max_prompt_tokens"), "max_completion_tokens": body.get("max_completion_tokens"),
        "truncation_strategy": body.get("truncation_strategy") or {"type": "auto", "last_messages": None},
        "response_format": body.get("response_format") or "auto", "tool_choice": body.get("tool_choice") or "auto",
        "parallel_tool_calls": body.get("parallel_tool_calls", True), "tool_resources": body.get("tool_resources") or {},
    }
