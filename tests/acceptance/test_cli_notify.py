"""The notifier's commands as a user runs them: crawl sends alerts, channels are tested, no secret shown."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.acceptance.command_line import BOARD_PATH, rolewatch
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.receivers import SmtpServer, Webhook

SECRET = "hunter2-s3cret"


def write_config(path: Path, server: BoardServer, notify: list[str], *, query: str = "intern") -> None:
    channels = ", ".join(json.dumps(url) for url in notify)
    path.write_text(
        f"""
database: sqlite:///{path.parent}/rolewatch.db
defaults:
  politeness: {{delay: 0s, autothrottle: false, retries: 0, request_timeout: 5s}}
sources:
  - {{name: koala, type: greenhouse, board: koala, base_url: "{server.url}"}}
subscriptions:
  - name: interns
    query: {json.dumps(query)}
    locations: [AU]
    notify: [{channels}]
delivery: {{first_retry: 1s, send_timeout: 3s}}
""",
        encoding="utf-8",
    )


def serve(server: BoardServer) -> None:
    server.set_json(
        BOARD_PATH,
        greenhouse_board(
            [
                greenhouse_job(201, "Data Scientist Intern", location="Sydney, NSW"),
                greenhouse_job(202, "Head Chef", location="Sydney, NSW"),
            ]
        ),
    )


def test_crawl_sends_the_alerts_its_events_produced_and_only_once(
    tmp_path: Path, board_server: BoardServer, webhook: Webhook, smtp_server: SmtpServer
) -> None:
    serve(board_server)
    write_config(tmp_path / "rolewatch.yaml", board_server, [webhook.url, smtp_server.url])
    done = rolewatch(tmp_path, "crawl")
    assert done.returncode == 0, done.stderr
    assert "alerts: 2 sent" in done.stderr
    (request,) = webhook.wait_for(1)
    assert request.json["title"] == "New: Data Scientist Intern — Koala Analytics · Sydney, AU"
    assert "Data Scientist Intern" in smtp_server.wait_for(1)[0]["Subject"]
    again = rolewatch(tmp_path, "crawl")
    assert again.returncode == 0 and "alerts: 0 sent" in again.stderr
    assert len(webhook.requests) == 1
    listed = rolewatch(tmp_path, "deliveries", "--format", "json")
    rows = json.loads(listed.stdout)
    assert sorted(row["status"] for row in rows) == ["sent", "sent"]


def test_no_notify_leaves_alerts_owed_until_deliver(
    tmp_path: Path, board_server: BoardServer, webhook: Webhook
) -> None:
    serve(board_server)
    write_config(tmp_path / "rolewatch.yaml", board_server, [webhook.url])
    assert rolewatch(tmp_path, "crawl", "--no-notify").returncode == 0
    assert webhook.requests == []
    owed = json.loads(rolewatch(tmp_path, "deliveries", "--format", "json").stdout)
    assert [row["status"] for row in owed] == ["pending"]
    assert "Outbox: 1 delivery owed" in rolewatch(tmp_path, "status").stdout
    done = rolewatch(tmp_path, "deliver")
    assert done.returncode == 0 and "1 sent" in done.stderr
    assert len(webhook.wait_for(1)) == 1


def test_a_dead_channel_is_reported_retried_and_never_shows_its_secret(
    tmp_path: Path, board_server: BoardServer, webhook: Webhook
) -> None:
    serve(board_server)
    secret_url = webhook.url + f"?+Authorization=Bearer%20{SECRET}"
    webhook.respond_with(500)
    write_config(tmp_path / "rolewatch.yaml", board_server, [secret_url])
    crawled = rolewatch(tmp_path, "crawl")
    assert crawled.returncode == 0, crawled.stderr
    assert "1 failed (will be retried)" in crawled.stderr
    failed = rolewatch(tmp_path, "deliveries", "--failed", "--format", "json")
    (row,) = json.loads(failed.stdout)
    assert row["recipient"] == "interns" and row["status"] == "pending" and "500" in row["last_error"]
    tested = rolewatch(tmp_path, "notify", "test", "interns")
    assert tested.returncode == 1 and "FAILED" in tested.stdout
    webhook.respond_with(200)
    assert rolewatch(tmp_path, "notify", "test", "interns").returncode == 0
    assert webhook.requests[-1].headers["authorization"] == f"Bearer {SECRET}", "the secret is still sent"
    outputs = [crawled, failed, tested, rolewatch(tmp_path, "deliveries", "--format", "json")]
    for done in outputs:
        assert SECRET not in done.stdout + done.stderr
    with sqlite3.connect(tmp_path / "rolewatch.db") as db:
        dumped = "\n".join(db.iterdump())
    assert SECRET not in dumped, "no secret in the database's plain columns"


def test_subscriptions_test_lists_what_would_have_matched(tmp_path: Path, board_server: BoardServer) -> None:
    serve(board_server)
    write_config(tmp_path / "rolewatch.yaml", board_server, [])
    assert rolewatch(tmp_path, "crawl").returncode == 0
    done = rolewatch(tmp_path, "subscriptions", "test", "interns", "--since", "7d", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert [row["title"] for row in json.loads(done.stdout)] == ["Data Scientist Intern"]
    unknown = rolewatch(tmp_path, "subscriptions", "test", "nobody")
    assert unknown.returncode == 2 and "unknown subscription 'nobody'" in unknown.stderr


def test_a_bad_query_or_channel_is_a_configuration_error_naming_the_subscription(
    tmp_path: Path, board_server: BoardServer
) -> None:
    write_config(
        tmp_path / "rolewatch.yaml",
        board_server,
        [f"mailto://me:{SECRET}@", f"notascheme://user:{SECRET}@host/path"],
        query='title:(intern AND "data',
    )
    done = rolewatch(tmp_path, "check")
    assert done.returncode == 2
    assert "subscriptions[0].query (interns):" in done.stderr and "position" in done.stderr
    assert "subscriptions[0].notify (interns):" in done.stderr
    assert SECRET not in done.stdout + done.stderr
