"""The listening socket of `baton serve` and `baton registry serve`, opened before uvicorn.

Binding ourselves checks the host and port first and says what is wrong in one line (uvicorn
would log the OS error and exit), lets `--port 0` pick a free port whose number is known
before serving, and listens before the address is announced, so an early client is queued
rather than refused while the app starts.
"""

from __future__ import annotations

import errno
import socket

from .contract.errors import BatonError

BACKLOG = 2048  # uvicorn's default

_FREE_PORT_HINT = "pick another with --port, or --port 0 for a free one"


def listen(host: str, port: int, *, backlog: int = BACKLOG) -> socket.socket:
    """A socket bound to `host:port` and listening; BatonError naming --host or --port."""
    check_port(port)
    if not host or any(c.isspace() or not c.isprintable() for c in host):
        raise BatonError(f"--host {host!r} is not a host name or address",
                         hint="e.g. 127.0.0.1, 0.0.0.0 for all interfaces, or ::1")
    try:
        # IPv4 unless the host is an IPv6 address, as uvicorn does (`localhost` stays
        # 127.0.0.1, whatever order the resolver prefers).
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, family=socket.AF_INET6 if ":" in host else socket.AF_INET,
            type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise BatonError(f"--host {host}: cannot resolve it ({reason})",
                         hint="give an address of this machine, e.g. 127.0.0.1 or 0.0.0.0") \
            from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise _bind_error(host, port, exc) from None
    sock.set_inheritable(True)  # worker processes serve on it
    return sock


def check_port(port: int, option: str = "--port") -> int:
    """A TCP port number, 0 meaning any free one."""
    if not 0 <= port <= 65535:
        raise BatonError(f"{option} {port} is out of range", hint="give 0 to 65535 (0 picks "
                                                                  "a free port)")
    return port


def _bind_error(host: str, port: int, exc: OSError) -> BatonError:
    if exc.errno == errno.EADDRINUSE:
        return BatonError(f"--port {port}: another program is already listening on "
                          f"{host}:{port}", hint=_FREE_PORT_HINT)
    if exc.errno == errno.EACCES:
        return BatonError(f"--port {port}: this user may not listen on it (ports below 1024 "
                          "need privileges)", hint=_FREE_PORT_HINT)
    if exc.errno == errno.EADDRNOTAVAIL:
        return BatonError(f"--host {host} is not an address of this machine",
                          hint="give one of its addresses, 127.0.0.1, or 0.0.0.0 for all")
    return BatonError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                      hint="check --host and --port")
