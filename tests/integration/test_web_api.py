"""The JSON API gives exactly the CLI's `--format json` objects, paged by cursor; CSV exports every field."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from tests.integration.web_checks import cli_json
from tests.integration.web_seed import Seeded


def every_page(client: TestClient, path: str) -> list[Any]:
    items: list[Any] = []
    url: str | None = path
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        document = response.json()
        items += document["data"]
        url = document["next"]
    return items


def test_api_events_are_the_cli_events_objects(
    web_client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    expected = cli_json(tmp_path, engine, "events", "--since", "30d")
    assert every_page(web_client, "/api/events?since=30d&limit=2") == expected
    changed = cli_json(tmp_path, engine, "events", "--since", "30d", "--type", "changed", "--source", "acme")
    assert every_page(web_client, "/api/events?since=30d&type=changed&source=acme") == changed


def test_api_postings_are_the_cli_postings_objects(
    web_client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    expected = cli_json(tmp_path, engine, "postings")
    assert every_page(web_client, "/api/postings?status=all&sort=oldest&limit=3") == expected
    open_only = cli_json(tmp_path, engine, "postings", "--open", "--source", "acme")
    assert every_page(web_client, "/api/postings?source=acme&sort=oldest") == open_only
    searched = every_page(web_client, "/api/postings?q=title:intern&status=all")
    assert {row["title"] for row in searched} == {"Data Scientist Intern 1"} | {
        row["title"] for row in expected if "Intern" in row["title"]
    }


def test_api_posting_is_the_cli_show_object(
    web_client: TestClient, engine: Engine, tmp_path: Path, web_seeded: Seeded
) -> None:
    expected = cli_json(tmp_path, engine, "show", str(web_seeded.hostile_id))
    assert web_client.get(f"/api/postings/{web_seeded.hostile_id}").json() == expected
    assert web_client.get("/api/postings/acme/1").json() == cli_json(tmp_path, engine, "show", "acme/1")
    missing = web_client.get("/api/postings/99999")
    assert missing.status_code == 404 and missing.json() == {"error": "no posting '99999'"}


def test_api_sources_is_the_cli_status_object(web_client: TestClient, engine: Engine, tmp_path: Path) -> None:
    assert web_client.get("/api/sources").json() == cli_json(tmp_path, engine, "status")


def test_bad_api_parameters_are_json_400s(web_client: TestClient) -> None:
    for path in (
        "/api/events?cursor=x",
        "/api/events?type=nope",
        "/api/postings?q=title:(",
        "/api/postings?limit=9999",
    ):
        response = web_client.get(path)
        assert response.status_code == 400 and "error" in response.json(), path


def test_csv_exports_carry_every_field_of_every_row(
    web_client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    events = list(csv.DictReader(io.StringIO(web_client.get("/api/events.csv").text)))
    expected_events = cli_json(tmp_path, engine, "events", "--since", "3650d")
    assert [row["id"] for row in events] == [str(row["id"]) for row in expected_events]
    assert set(events[0]) == set(expected_events[0])
    postings = web_client.get("/api/postings.csv?status=all&sort=oldest")
    assert postings.headers["content-disposition"] == 'attachment; filename="postings.csv"'
    rows = list(csv.DictReader(io.StringIO(postings.text)))
    expected = cli_json(tmp_path, engine, "postings")
    assert [row["title"] for row in rows] == [row["title"] for row in expected]
    shown = cli_json(tmp_path, engine, "show", "acme/1")["posting"]
    assert list(rows[0]) == list(cli_json(tmp_path, engine, "postings", "--description")[0])  # the CLI's
    assert set(shown) - {"locations", "salary", "work_rights"} <= set(rows[0])
    first = next(row for row in rows if row["external_id"] == "1")
    assert first["salary"] == "AUD 90,000/yr" and first["description_text"] == shown["description_text"]
