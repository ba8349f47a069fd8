"""The read-only web interface: dashboard pages, Atom and JSON feeds, and a JSON API, as one ASGI app."""

from __future__ import annotations

from rolewatch.web.app import create_app

__all__ = ["create_app"]
