"""Which model service answers: replay only, the simulator, OpenAI or Azure OpenAI."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping

import httpx2
import openai

from replaygate.core.errors import InputError

LLM_CHOICES = ("auto", "openai", "azure", "sim")
SIM_BASE_URL = "http://simulator.invalid/v1"
REPLAY_BASE_URL = "http://replay.invalid/v1"


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

    @property
    def is_simulator(self) -> bool:
        return self.kind == "sim"

    def with_double(self, double: Callable[[], httpx2.AsyncBaseTransport] | None, suite: str) -> "Backend":
        """This backend for one suite: under --llm=sim, that suite's own test double answers."""
        if self.kind != "sim":
            return self
        if double is None:
            raise InputError(f"--llm=sim: suite {suite!r} has no offline test double; give its Suite a double= "
                             "(a FunctionModel, say), or run it against a real model with --llm=openai or --llm=azure")
        label = getattr(double, "label", "") or f"offline test double of suite {suite!r} (not a real model)"
        return replace(self, double=double, label=label)

    def transport(self, concurrency: int) -> httpx2.AsyncBaseTransport | None:
        """The transport that reaches the service; None when nothing may be reached."""
        if self.kind == "replay":
            return None
        if self.kind == "sim":
            if self.double is None:
                raise InputError("--llm=sim: no suite's test double was given to this backend; this is a harness bug")
            return self.double()
        limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        return httpx2.AsyncHTTPTransport(limits=limits, retries=0)

    def client(
        self, role: str, http_client: httpx2.AsyncClient | httpx2.Client, timeout_s: float, replays_errors: bool = False
    ) -> openai.AsyncOpenAI | openai.OpenAI:
        """The SDK client for a role; a sync httpx2 client gets the sync SDK client."""
        # Replays never wait on retries, unless the cassettes hold recorded errors that the
        # live run retried past; live calls get the SDK's own backoff.
        retries = 0 if self.kind == "replay" and not replays_errors else 3
        if self.kind == "azure":
            deployment = (self.deployments or {}).get(role, "")
            azure = openai.AzureOpenAI if isinstance(http_client, httpx2.Client) else openai.AsyncAzureOpenAI
            return azure(
                api_key=self.api_key,
                azure_endpoint=self.base_url,
                api_version=self.api_version,
                azure_deployment=deployment or None,
                http_client=http_client,
                max_retries=retries,
                timeout=timeout_s,
            )
        plain = openai.OpenAI if isinstance(http_client, httpx2.Client) else openai.AsyncOpenAI
        return plain(
            api_key=self.api_key or "no-key-needed",
            base_url=self.base_url,
            http_client=http_client,
            max_retries=retries,
            timeout=timeout_s,
        )


def resolve_backend(
    llm: str | None,
    recording: bool,
    environ: Mapping[str, str],
    azure_deployments: Mapping[str, str],
) -> Backend:
    """Pick the backend: replay unless --llm is given or recording is on; `auto` prefers Azure, then OpenAI, then the simulator."""
    if llm is None and not recording:
        return Backend("replay", "replay of recorded cassettes (offline, no network)", base_url=REPLAY_BASE_URL)
    choice = llm or "auto"
    if choice not in LLM_CHOICES:
        raise InputError(f"--llm={choice}: unknown backend; use one of {', '.join(LLM_CHOICES)}")
    if choice == "auto":
        if environ.get("AZURE_OPENAI_ENDPOINT") and environ.get("AZURE_OPENAI_API_KEY"):
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
    endpoint = environ.get("AZURE_OPENAI_ENDPOINT", "")
    key = environ.get("AZURE_OPENAI_API_KEY", "")
    if not endpoint or not key:
        raise InputError(
            "--llm=azure: set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY (and AZURE_OPENAI_API_VERSION), or use --llm=sim"
        )
    deployments = {
        role: environ.get(f"AZURE_OPENAI_{role.upper()}_DEPLOYMENT") or azure_deployments.get(role, "")
        for role in ("agent", "judge", "optimizer")
    }
    # The optimizer's critic and editor default to the judge's deployment, as its model does.
    deployments["optimizer"] = deployments["optimizer"] or deployments["judge"]
    version = environ.get("AZURE_OPENAI_API_VERSION") or "2024-10-21"
    return Backend("azure", f"azure {endpoint}", base_url=endpoint, api_key=key, api_version=version, deployments=deployments)
