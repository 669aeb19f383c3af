"""Running the app under uvicorn: one worker in this process, or N worker processes.

The socket is bound and listening first (listen.py), so a bad host or a port in use is one
line before the package loads, `--port 0` picks a free port and the real address can be
announced before serving: a client that connects at once waits in the backlog until the
server is up, instead of being refused. Workers load the package themselves (options
travel in an environment variable) and share Prometheus metrics through a multiprocess
folder.
SIGTERM lets in-flight requests finish, then the lifespan flushes the prediction log.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from ..contract.errors import BatonError, MissingExtraError
from ..listen import listen
from .metrics import MULTIPROC_ENV
from .options import ServeOptions

OPTIONS_ENV = "BATON_SERVE_OPTIONS"
GRACEFUL_SHUTDOWN_S = 30
#: The model thread and the event loop share the GIL; Python's default 5 ms turns would
#: leave requests unread for a whole model call. 1 ms measured best under load here.
SWITCH_INTERVAL_S = 0.001


def run(options: ServeOptions, *, announce: Callable[[str, int], None]) -> None:
    """Serve until SIGTERM/SIGINT; `announce(host, port)` is called once the port is bound."""
    try:
        import uvicorn
        from uvicorn.supervisors import Multiprocess
    except ImportError:
        raise MissingExtraError("uvicorn", "serve") from None
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    common: dict[str, Any] = dict(
        host=options.host, port=options.port, workers=options.workers, access_log=False,
        log_config=_log_config(), timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        lifespan="on", server_header=False,
        proxy_headers=False)  # no use of client addresses: one middleware less per request
    # Host and port are checked before the package loads: a port in use is said at once.
    with listen(options.host, options.port) as sock:
        if options.workers == 1:
            from .app import create_app

            config = uvicorn.Config(create_app(options), **common)
            server = uvicorn.Server(config)
            announce(*sock.getsockname()[:2])
            server.run(sockets=[sock])
            if not server.started:
                raise BatonError("the server did not start; see the log above")
            return
        metrics_dir = tempfile.mkdtemp(prefix="baton-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
        os.environ[OPTIONS_ENV] = options.to_json()
        try:
            config = uvicorn.Config("modelbaton.serve.server:worker_app", factory=True, **common)
            announce(*sock.getsockname()[:2])
            Multiprocess(config, sockets=[sock]).run()
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def worker_app() -> Any:
    """The app of one worker process (uvicorn's factory when --workers > 1)."""
    from .app import create_app

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return create_app(ServeOptions.from_json(os.environ[OPTIONS_ENV]))


def _log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["modelbaton"] = {"handlers": ["default"], "level": "INFO",
                                       "propagate": False}
    return config
