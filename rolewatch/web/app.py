"""The ASGI application: pages, feeds and API behind security headers and optional access control.

`rolewatch web` serves it alone; the daemon serves it beside its own `/healthz` and `/metrics`
(passed in as `extra_routes`), on the daemon's loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError, ProgrammingError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from rolewatch.logs import redact
from rolewatch.web import api, feeds, pages
from rolewatch.web.auth import AccessControl
from rolewatch.web.context import WebContext
from rolewatch.web.security import SecurityHeaders
from rolewatch.web.templating import render_page

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rolewatch.config import Config

STATIC = Path(__file__).with_name("static")
log = logging.getLogger(__name__)


def favicon(request: Request) -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


def error_response(request: Request, status: int, detail: str) -> Response:
    """Errors in the form the caller reads: JSON for the API, text for feeds, a page for people."""
    path = request.url.path
    if path.startswith("/api/"):
        return JSONResponse({"error": detail}, status_code=status)
    if path.startswith("/feeds/"):
        return PlainTextResponse(detail, status_code=status)
    return render_page(request, "error.html", status, title=f"Error {status}", code=status, detail=detail)


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    response = error_response(request, error.status_code, str(error.detail))
    if error.headers:
        response.headers.update(error.headers)
    return response


async def database_error(request: Request, error: Exception) -> Response:
    """An unreachable database, or one the daemon has not finished setting up: 503, worth retrying."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    log.warning(
        "%s %s: the database is not available: %s",
        request.method,
        request.url.path,
        redact(reason[0] if reason else type(error).__name__),
    )
    return error_response(request, 503, "the database is not available (unreachable, or not set up yet)")


async def server_error(request: Request, error: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return error_response(request, 500, "internal error; see the server's log")


def create_app(
    engine: Engine, config_getter: Callable[[], Config], *, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    """The app over `engine`; `config_getter` is asked per request, so a reloaded configuration shows."""
    routes: list[BaseRoute] = [
        *extra_routes,
        *pages.ROUTES,
        *feeds.ROUTES,
        *api.ROUTES,
        Route("/favicon.ico", favicon),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders), Middleware(AccessControl, config_getter=config_getter)],
        exception_handlers={
            HTTPException: http_error,
            OperationalError: database_error,
            ProgrammingError: database_error,
            Exception: server_error,
        },
    )
    app.state.web = WebContext(engine, config_getter)
    return app
