"""Serving the app with uvicorn alone (`rolewatch web`); the daemon serves it through its own endpoint
(`scheduler.serving`), which the command line hands the app to."""

from __future__ import annotations

from typing import Any

import uvicorn

#: Connections served at once before a new one is answered 503 at once: a flood of clients costs a
#: bounded number of threads and database connections. (uvicorn still accepts each connection before
#: answering, so sockets are bounded by `BACKLOG`, the keep-alive time-out and the process's limit, not
#: by this; the daemon's endpoint, `scheduler.serving`, caps them, for deployments exposed to floods.)
LIMIT_CONCURRENCY = 64
#: Pending connections the kernel queues for accept().
BACKLOG = 128
#: An idle keep-alive connection is closed after this long.
KEEP_ALIVE_S = 5


def server_config(app: Any, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for rolewatch: bounded connections, no Server header, our own logging."""
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "limit_concurrency": LIMIT_CONCURRENCY,
        "backlog": BACKLOG,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "server_header": False,
        "proxy_headers": False,
        "log_config": None,
        "access_log": False,
        "lifespan": "off",
    }
    settings.update(options)
    return uvicorn.Config(app, **settings)


def serve_forever(app: Any, host: str, port: int) -> None:
    """Run until SIGINT or SIGTERM (uvicorn handles both and finishes the requests in flight)."""
    uvicorn.Server(server_config(app, host, port)).run()
