"""Which model service answers: replay only, the simulator, OpenAI, or Azure (Azure OpenAI or a Foundry project)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping

import httpx2

if TYPE_CHECKING:
    import openai

from replaygate.core.errors import InputError
from replaygate.llm.azure import (
    FOUNDRY_SCOPE,
    OPENAI_SCOPE,
    ROLE_HEADER,
    BearerTokens,
    DeploymentAsModel,
    check_openai_endpoint,
    check_project_endpoint,
    default_credential,
    remember,
)

LLM_CHOICES = ("auto", "openai", "azure", "sim")
SIM_BASE_URL = "http://simulator.invalid/v1"
REPLAY_BASE_URL = "http://replay.invalid/v1"
# Marks the harness's own network transport: capture (replaygate.capture.patch) passes its requests, the guard its sockets.
OWN_TRANSPORT = "_replaygate_own"


@dataclass(frozen=True)
class Backend:
    """How to reach the models. `kind` is replay, sim, openai or azure."""

    kind: str
    label: str
    base_url: str = ""
    api_key: str = ""
    api_version: str = ""
    deployments: Mapping[str, str] | None = None
    # The suite's offline test double (a transport factory), used when kind is "sim".
    double: Callable[[], httpx2.AsyncBaseTransport] | None = None
    # Azure with Entra ID: a TokenCredential-like object (`get_token(scope)` -> `.token`, `.expires_on`); wins over api_key.
    credential: Any = None
    # Azure AI Foundry project: base_url is the project endpoint plus /openai/v1, the deployment is the body's model.
    foundry: bool = False
    # Per role, the setting that named its Azure deployment, for error hints.
    sources: Mapping[str, str] | None = None
    # The token scope; empty means the route's own (Cognitive Services, or Azure AI for Foundry).
    scope: str = ""
    # One token cache per backend, so agent, judge, optimizer and sync clients share its renewals.
    tokens: BearerTokens | None = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.credential is not None:
            fallback = "" if self.foundry else ", or set AZURE_OPENAI_API_KEY"
            object.__setattr__(self, "tokens", BearerTokens(self.credential, self.token_scope, fallback))

    @property
    def is_simulator(self) -> bool:
        return self.kind == "sim"

    @property
    def token_scope(self) -> str:
        return self.scope or (FOUNDRY_SCOPE if self.foundry else OPENAI_SCOPE)

    @property
    def endpoint(self) -> str:
        """What the user set: the Azure OpenAI endpoint, or the Foundry project endpoint."""
        return self.base_url.removesuffix("/openai/v1") if self.foundry else self.base_url

    def with_double(self, double: Callable[[], httpx2.AsyncBaseTransport] | None, suite: str) -> "Backend":
        """This backend for one suite: under --llm=sim, that suite's own test double answers."""
        if self.kind != "sim":
            return self
        if double is None:
            raise InputError(f"--llm=sim: suite {suite!r} has no offline test double; give its Suite a double= "
                             "(a FunctionModel, say), or run it against a real model with --llm=openai or --llm=azure")
        label = getattr(double, "label", "") or f"offline test double of suite {suite!r} (not a real model)"
        return replace(self, double=double, label=label)

    def model_labels(self, role: str, model: str, named: bool, double: Any = None,
                     deployments: Mapping[str, str] | None = None) -> list[str]:
        """What reports and cassette folders call a role's model: the label this backend records under first, then,
        for a replay, which cannot tell what recorded, every other label the settings allow.

        A model named in the settings is its own label. Otherwise the name sent is only the default, so the label
        names what answers where it can: the Azure deployment, or the suite's own double by its name
        (`double.model_name`). A compatible server keeps the name sent (the provider line names its URL): a
        server's address changes from run to run, and replays must find the folder it recorded.
        """
        if named:
            return [model]
        deployment = (self.deployments or deployments or {}).get(role, "")
        own = getattr(double if double is not None else self.double, "model_name", "")
        own = own if isinstance(own, str) else ""
        if self.kind == "azure":
            return [deployment or model]
        if self.kind == "sim":
            return [own or model]
        if self.kind == "replay":
            return list(dict.fromkeys(label for label in (deployment, own, model) if label))
        return [model]

    def transport(self, concurrency: int) -> httpx2.AsyncBaseTransport | None:
        """The transport that reaches the service; None when nothing may be reached."""
        if self.kind == "replay":
            return None
        if self.kind == "sim":
            if self.double is None:
                raise InputError("--llm=sim: no suite's test double was given to this backend; this is a harness bug")
            return self.double()
        limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        network = httpx2.AsyncHTTPTransport(limits=limits, retries=0)
        setattr(network, OWN_TRANSPORT, True)
        return DeploymentAsModel(network, self.deployments or {}) if self.kind == "azure" else network

    def client(
        self, role: str, http_client: httpx2.AsyncClient | httpx2.Client, timeout_s: float, replays_errors: bool = False,
        *, connect_timeout_s: float = 5.0, max_retries: int = 2,
    ) -> openai.AsyncOpenAI | openai.OpenAI:
        """The SDK client for a role; a sync httpx2 client gets the sync SDK client.

        `timeout_s` bounds the wait for an answer, `connect_timeout_s` the wait for a connection."""
        import openai  # the SDK loads with the first client, not with the plugin: collection never needs it

        # Replays never wait on retries, unless the cassettes hold recorded errors that the
        # live run retried past; live calls get the SDK's own backoff.
        retries = 0 if self.kind == "replay" and not replays_errors else max_retries
        timeout = httpx2.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s))
        if self.kind == "azure":
            return self._azure_client(role, http_client, timeout, retries)
        plain = openai.OpenAI if isinstance(http_client, httpx2.Client) else openai.AsyncOpenAI
        client = plain(
            api_key=self.api_key or "no-key-needed",
            base_url=self.base_url,
            http_client=http_client,
            max_retries=retries,
            timeout=timeout,
        )
        remember(client, self, role)
        return client

    def _azure_client(
        self, role: str, http_client: httpx2.AsyncClient | httpx2.Client, timeout: httpx2.Timeout, retries: int
    ) -> openai.AsyncOpenAI | openai.OpenAI:
        import openai

        sync = isinstance(http_client, httpx2.Client)
        common: dict[str, Any] = dict(http_client=http_client, max_retries=retries, timeout=timeout,
                                      default_headers={ROLE_HEADER: role})
        # The SDK asks the provider on every request; async clients get one that never blocks the loop.
        token = None if self.tokens is None else self.tokens if sync else self.tokens.async_token
        if token is None and not self.api_key:
            raise InputError("--llm=azure: no credential; set AZURE_OPENAI_API_KEY, or pass a TokenCredential "
                             "as Backend(credential=...) or resolve_backend(..., credential=...)")
        if self.foundry:
            plain = openai.OpenAI if sync else openai.AsyncOpenAI
            client = plain(api_key=token or self.api_key, base_url=self.base_url, **common)
        else:
            azure = openai.AzureOpenAI if sync else openai.AsyncAzureOpenAI
            auth = {"azure_ad_token_provider": token} if token is not None else {"api_key": self.api_key}
            client = azure(**auth, azure_endpoint=self.base_url, api_version=self.api_version,
                           azure_deployment=(self.deployments or {}).get(role) or None, **common)
        remember(client, self, role)
        return client


def resolve_backend(
    llm: str | None,
    recording: bool,
    environ: Mapping[str, str],
    azure_deployments: Mapping[str, str],
    credential: Any = None,
) -> Backend:
    """Pick the backend: replay unless --llm is given or recording is on; `auto` prefers Azure, then OpenAI, then the simulator.

    `credential` (TokenCredential-like) signs Azure requests with Entra ID instead of DefaultAzureCredential or a key.
    """
    if llm is None and not recording:
        return Backend("replay", "replay of recorded cassettes (offline, no network)", base_url=REPLAY_BASE_URL)
    choice = llm or "auto"
    if choice not in LLM_CHOICES:
        raise InputError(f"--llm={choice}: unknown backend; use one of {', '.join(LLM_CHOICES)}")
    if choice == "auto":
        if _azure_is_set_up(environ, credential):
            choice = "azure"
        elif environ.get("OPENAI_API_KEY"):
            choice = "openai"
        else:
            choice = "sim"
    if choice == "sim":
        return Backend("sim", "each suite's offline test double (in-process; not a real model)", base_url=SIM_BASE_URL)
    if choice == "openai":
        key = environ.get("OPENAI_API_KEY", "")
        if not key:
            raise InputError("--llm=openai: OPENAI_API_KEY is not set; export it, or use --llm=sim for the offline simulator")
        base = environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        return Backend("openai", f"openai-compatible {base}", base_url=base, api_key=key)
    return azure_backend(environ, azure_deployments, credential)


def _azure_is_set_up(environ: Mapping[str, str], credential: Any) -> bool:
    # An endpoint alone is not enough for auto: signing in with DefaultAzureCredential must be asked for.
    if environ.get("AZURE_AI_PROJECT_ENDPOINT"):
        return True
    asked = environ.get("AZURE_OPENAI_API_KEY") or environ.get("AZURE_OPENAI_AUTH", "").strip().lower() == "entra"
    return bool(environ.get("AZURE_OPENAI_ENDPOINT") and (asked or credential is not None))


def azure_backend(environ: Mapping[str, str], azure_deployments: Mapping[str, str], credential: Any = None) -> Backend:
    """Azure OpenAI (key or Entra ID) or an Azure AI Foundry project; AZURE_AI_PROJECT_ENDPOINT wins when both are set."""
    project = environ.get("AZURE_AI_PROJECT_ENDPOINT", "").strip()
    endpoint = environ.get("AZURE_OPENAI_ENDPOINT", "").strip()
    key = environ.get("AZURE_OPENAI_API_KEY", "")
    auth = environ.get("AZURE_OPENAI_AUTH", "").strip().lower()
    if auth not in ("", "key", "entra"):
        raise InputError(f"--llm=azure: AZURE_OPENAI_AUTH={auth!r} is unknown; set it to key or entra, or unset it")
    if not project and not endpoint:
        raise InputError(
            "--llm=azure: set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY (and AZURE_OPENAI_API_VERSION), or use --llm=sim"
        )
    deployments, sources = _deployments(environ, azure_deployments)
    if project:
        project = check_project_endpoint(project)
        if auth == "key":
            raise InputError("--llm=azure: AZURE_AI_PROJECT_ENDPOINT takes Entra ID auth only; unset AZURE_OPENAI_AUTH, "
                             "or unset AZURE_AI_PROJECT_ENDPOINT to use AZURE_OPENAI_ENDPOINT with its key")
        credential = credential or default_credential("AZURE_AI_PROJECT_ENDPOINT takes", "")
        return Backend("azure", f"azure foundry project {project} (Entra ID)", base_url=project + "/openai/v1",
                       deployments=deployments, sources=sources, credential=credential, foundry=True)
    endpoint = check_openai_endpoint(endpoint)
    version = environ.get("AZURE_OPENAI_API_VERSION") or "2024-10-21"
    # A credential passed in code, or AZURE_OPENAI_AUTH=entra, asks for Entra ID even when a key is set.
    if auth == "key" or (not auth and key and credential is None):
        if not key:
            raise InputError("--llm=azure: AZURE_OPENAI_AUTH=key but AZURE_OPENAI_API_KEY is not set; set it, "
                             "or unset AZURE_OPENAI_AUTH to sign in with Entra ID")
        return Backend("azure", f"azure {endpoint}", base_url=endpoint, api_key=key, api_version=version,
                       deployments=deployments, sources=sources)
    if credential is None:
        needed_by = ("AZURE_OPENAI_AUTH=entra asks for" if auth == "entra"
                     else "AZURE_OPENAI_API_KEY is not set, so AZURE_OPENAI_ENDPOINT takes")
        credential = default_credential(needed_by, ", or set AZURE_OPENAI_API_KEY")
    return Backend("azure", f"azure {endpoint} (Entra ID)", base_url=endpoint, api_version=version,
                   deployments=deployments, sources=sources, credential=credential)


def role_deployments(environ: Mapping[str, str], configured: Mapping[str, str]) -> dict[str, str]:
    """The Azure deployment per role the settings name (a replay reads them to find what an Azure run recorded)."""
    return _deployments(environ, configured)[0]


def _deployments(environ: Mapping[str, str], configured: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Deployment per role (agent, judge, optimizer), and the setting that named each."""
    deployments: dict[str, str] = {}
    sources: dict[str, str] = {}
    for role in ("agent", "judge", "optimizer"):
        variable = f"AZURE_OPENAI_{role.upper()}_DEPLOYMENT"
        if environ.get(variable):
            deployments[role], sources[role] = environ[variable], variable
        elif configured.get(role):
            deployments[role], sources[role] = configured[role], f"[tool.replaygate.azure] {role}_deployment"
        else:
            deployments[role] = ""
    # The optimizer's critic and editor default to the judge's deployment, as its model does.
    if not deployments["optimizer"] and deployments["judge"]:
        deployments["optimizer"], sources["optimizer"] = deployments["judge"], sources["judge"]
    return deployments, sources
