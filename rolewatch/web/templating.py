"""Jinja2 for the pages and the Atom feeds: autoescaped, strict about undefined names, with the few
filters the templates need to show board data safely."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from rolewatch.web.security import clean_description, safe_url


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _iso(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else ""


def _description(html: str) -> Markup:
    return Markup(clean_description(html))


def link_to(path: str, params: Mapping[str, Any], **changes: Any) -> str:
    """`path` with the current query parameters, some changed (None drops one): for paging and sorting."""
    merged = {key: value for key, value in params.items() if key != "cursor"}
    merged.update(changes)
    query = urlencode([(key, value) for key, value in merged.items() if value not in (None, "")])
    return f"{path}?{query}" if query else path


ENVIRONMENT = Environment(
    loader=PackageLoader("rolewatch.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters.update(when=_when, iso=_iso, safe_url=safe_url, description=_description)
ENVIRONMENT.globals.update(link_to=link_to)


def render_page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    body = ENVIRONMENT.get_template(template).render(request=request, path=request.url.path, **context)
    return HTMLResponse(body, status_code=status)


def render_text(template: str, **context: Any) -> str:
    return ENVIRONMENT.get_template(template).render(**context)
