"""What every endpoint needs from the running app: the engine and the current configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from notifier.matching import SubscriptionBook
    from rolewatch.config import Config


@dataclass
class WebContext:
    """Held in `app.state.web`; `config_getter` is asked per request so a reload (SIGHUP) shows at once."""

    engine: Engine
    config_getter: Callable[[], Config]
    _book: tuple[int, SubscriptionBook] | None = None

    @property
    def config(self) -> Config:
        return self.config_getter()

    def book(self) -> SubscriptionBook:
        """The subscriptions compiled once per configuration (rebuilt after a reload)."""
        from notifier.matching import SubscriptionBook

        config = self.config
        if self._book is None or self._book[0] != id(config):
            self._book = (id(config), SubscriptionBook(config))
        return self._book[1]


def web(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context
