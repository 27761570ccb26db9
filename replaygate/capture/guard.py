"""The network guard: while a run is active, a case's code reaches no host outside the harness.

Sockets are patched for the run (refcounted, restored after, as `replaygate.capture.patch` does for
transports). A connection or name lookup made in a case's context is refused with one line unless
the harness itself is sending (the backend's own transport), it goes to the loopback endpoint, or
the suite allows the host. The refusal is noted on the case's route, so the case fails with that
line even when the solver swallowed the error. Connections outside any case are not the guard's.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

from replaygate.capture.patch import Patches
from replaygate.capture.route import CURRENT_ROUTE, HARNESS_SEND, CaseRoute, endpoint_address, is_active
from replaygate.core.errors import InputError

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

_originals: dict[str, Any] = {}  # what the patched functions call on


class NetworkBlocked(ConnectionRefusedError):
    """What the case's code sees: a refused connection, worded as the guard's one line."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "replaygate: connection refused by the network guard"


class NetworkEscape(InputError):
    """A case whose code tried to reach a host outside the harness: it fails with the guard's line, unscored."""


def _guarding() -> CaseRoute | None:
    """The case whose connection this is, when the guard must judge it."""
    route = CURRENT_ROUTE.get()
    if route is None or not route.guard or HARNESS_SEND.get():
        return None
    # A thread a finished case left running is no longer that case's; it is not judged in its name.
    return route if is_active(route) else None


def _loopback(host: str) -> bool:
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def allowed(route: CaseRoute, host: str, port: int | None) -> bool:
    """The loopback endpoint, and the suite's allow_hosts (`host` or `host:port`, case-insensitive)."""
    host = host.strip("[]").lower()
    endpoint = endpoint_address()
    if endpoint is not None and port == endpoint[1] and _loopback(host) and _loopback(endpoint[0]):
        return True
    return any(name == host and (not wanted or wanted == str(port)) for name, wanted in map(_host_port, route.allow_hosts))


def _host_port(entry: str) -> tuple[str, str]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address, as (host, port or "")."""
    entry = entry.strip().lower()
    if entry.startswith("[") and "]" in entry:
        host, _, rest = entry[1:].partition("]")
        return host, rest.removeprefix(":")
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, port
    return entry, ""


def refusal(host: Any, port: Any) -> str | None:
    """The guard's line when the current case may not reach host:port (noted on its route), else None."""
    route = _guarding()
    if route is None:
        return None
    host = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    try:
        number = int(port) if port is not None else None
    except (TypeError, ValueError):
        number = None
    if allowed(route, host, number):
        return None
    return route.escaped(host.strip("[]"), number)


def _inet(address: Any) -> tuple[Any, Any] | None:
    """(host, port) of an AF_INET/AF_INET6 address; None for a Unix socket's path."""
    if isinstance(address, tuple) and len(address) >= 2:
        return address[0], address[1]
    return None


def _connect(self: socket.socket, address: Any) -> None:
    inet = _inet(address)
    line = refusal(*inet) if inet is not None else None
    if line is not None:
        raise NetworkBlocked(line)
    return _originals["connect"](self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    inet = _inet(address)
    if inet is not None and refusal(*inet) is not None:
        return errno.ECONNREFUSED
    return _originals["connect_ex"](self, address)


def _getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    # A name is judged before it is looked up: an unreachable DNS must not be what the case fails on.
    if host is not None and _guarding() is not None:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        if not _is_address(name) and not _loopback(name):
            line = refusal(name, port)
            if line is not None:
                raise NetworkBlocked(line)
    return _originals["getaddrinfo"](host, port, *args, **kwargs)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _apply(patches: Patches) -> None:
    _originals.update(connect=socket.socket.connect, connect_ex=socket.socket.connect_ex, getaddrinfo=socket.getaddrinfo)
    patches.replace(socket.socket, "connect", _connect)
    patches.replace(socket.socket, "connect_ex", _connect_ex)
    patches.replace(socket, "getaddrinfo", _getaddrinfo)


_patches = Patches(_apply)


def install() -> None:
    """Guard sockets until the matching `uninstall` (calls nest: the last uninstall restores them)."""
    _patches.hold()


def uninstall() -> None:
    _patches.release()


def installed() -> bool:
    return _patches.held
