"""`rolewatch web`: the dashboard, feeds and API served alone, over the configured database."""

from __future__ import annotations

import sys

import click

from rolewatch.cli.common import config_of, handle_errors, open_engine, parse_address


@click.command("web")
@click.option(
    "--http",
    "http",
    metavar="HOST:PORT",
    help="Address to serve on (default: web.http, 127.0.0.1:8787).",
)
@click.option(
    "--hash",
    "hash_secret",
    is_flag=True,
    help="Read a secret from stdin and print the hash to put in web.auth.token or web.auth.password.",
)
@click.pass_context
def web(ctx: click.Context, http: str | None, hash_secret: bool) -> None:
    """Serve the read-only dashboard, Atom/JSON feeds and JSON API (no daemon needed)."""
    if hash_secret:
        from rolewatch.web.auth import hash_secret as make_hash

        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            raise click.UsageError("give the secret on stdin, e.g. `printf %s TOKEN | rolewatch web --hash`")
        click.echo(make_hash(secret))
        return
    handle_errors(_serve)(ctx, http)


def _serve(ctx: click.Context, http: str | None) -> None:
    from rolewatch.web import create_app
    from rolewatch.web.server import serve_forever

    config = config_of(ctx)
    host, port = parse_address(http or config.web.http)
    engine = open_engine(config)
    app = create_app(engine, lambda: config)
    click.echo(f"rolewatch web: serving http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    try:
        serve_forever(app, host, port)
    finally:
        engine.dispose()
