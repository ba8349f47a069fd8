"""`rolewatch.api`: the store opened from a configuration or a URL, with the CLI's filters and objects,
and the README's example run as written, on each backend."""

from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from rolewatch.api import QuerySyntaxError, SearchError, Store, to_records
from rolewatch.domain import Event, EventType, Salary
from storage.queries import PostingDetail
from tests.integration.test_cli_search import CONFIG, run, seed

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def config_path(engine: Engine, tmp_path: Path) -> Path:
    seed(engine)
    url = engine.url.render_as_string(hide_password=False)
    path = tmp_path / "rolewatch.yaml"
    path.write_text(f"database: '{url}'\n{CONFIG}", encoding="utf-8")
    return path


def cli_records(path: Path, *args: str) -> list[dict[str, Any]]:
    result = run(path.parent, *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_postings_are_typed_and_filtered_as_the_cli_filters(config_path: Path) -> None:
    with Store.open(config=config_path) as store:
        every = list(store.postings())
        assert [p.external_id for p in every] == ["1", "2", "3", "4", "7"]
        assert all(isinstance(p, PostingDetail) for p in every)
        ml = next(p for p in every if p.external_id == "2")
        assert ml.salary == Salary(45, 55, "USD", "hour") and ml.locations[0].country == "DE"
        searched = list(store.postings("title:(data OR ml) AND NOT senior", open_only=True))
        assert [p.external_id for p in searched] == ["1", "2", "4"]
        assert [p.external_id for p in store.postings(min_salary="40:USD:hour")] == ["2"]
        by_mapping = store.postings(min_salary={"amount": 40, "currency": "USD", "per": "hour"})
        assert [p.external_id for p in by_mapping] == ["2"]
        assert [p.external_id for p in store.postings(locations=["Germany"], companies=["numbat"])] == ["2"]
        assert [p.external_id for p in store.postings(employment_types=["full_time"])] == ["3"]
        assert [p.external_id for p in store.postings(workplace=["remote"], source="acme")] == ["4"]
        assert len(list(store.postings(limit=2))) == 2
        # The records are the CLI's own objects.
        assert to_records(store.postings(query="intern")) == cli_records(
            config_path, "postings", "--query", "intern"
        )
        with pytest.raises(QuerySyntaxError, match="position"):
            list(store.postings("title:(data OR"))
        with pytest.raises(SearchError, match="known: acme, globex, initech"):
            list(store.postings(source="acmee"))
        with pytest.raises(SearchError, match="workplace"):
            list(store.postings(workplace=["moon"]))
        history = store.posting("acme/2")
        assert history is not None and history.posting.title == "ML Engineer, New Grad"


def test_events_are_typed_and_filtered(config_path: Path, engine: Engine) -> None:
    with Store.from_url(engine.url.render_as_string(hide_password=False)) as store:
        every = list(store.events())
        assert all(isinstance(e, Event) for e in every)
        assert [e.id for e in every] == sorted(e.id or 0 for e in every)
        assert {e.type for e in every} == {EventType.NEW, EventType.CHANGED, EventType.CLOSED}
        assert [e.external_id for e in store.events(type="closed")] == ["3"]
        assert {e.source for e in store.events(source="globex")} == {"globex"}
        assert len(list(store.events(since="1d"))) == len(every)
        assert list(store.events(since=datetime.now(UTC) + timedelta(hours=1))) == []
        assert list(store.events(since=timedelta(seconds=0))) == []
        assert [e.external_id for e in store.events(type=EventType.CHANGED, company="Acme")] == ["1"]
        records = to_records(store.events())
    expected = cli_records(config_path, "events", "--since", "1d")
    assert [r["id"] for r in records] == [r["id"] for r in expected]
    assert [json.loads(r["changes"]) for r in records] == [r["changes"] for r in expected]


def test_records_are_flat_for_a_data_frame(config_path: Path) -> None:
    with Store.open(config=config_path) as store:
        postings = to_records(store.postings(), description=True)
        events = to_records(store.events())
    for record in postings + events:
        assert all(isinstance(value, str | int | float | bool | type(None)) for value in record.values())
    assert len({tuple(record) for record in postings}) == 1  # one set of columns
    assert postings[1]["salary_currency"] == "USD" and postings[1]["description_text"] == "Role number 2."


def test_an_old_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="rolewatch db upgrade"):
        Store.from_url(f"sqlite:///{tmp_path / 'none.db'}")


def test_the_readme_example_runs(config_path: Path) -> None:
    block = re.search(r"<!-- library-example -->\n```python\n(.*?)```", README, re.S)
    assert block is not None, "the README's library example (after <!-- library-example -->) is missing"
    namespace: dict[str, Any] = {}
    printed = io.StringIO()
    with contextlib.chdir(config_path.parent), contextlib.redirect_stdout(printed):
        exec(compile(block.group(1), "README.md", "exec"), namespace)
    assert [p.external_id for p in namespace["interns"]] == ["1"]
    assert namespace["records"][0]["salary_currency"] == "AUD"
    assert len(namespace["new_this_week"]) == 5
    assert "open intern roles in Sydney: 1; new postings this week: 5" in printed.getvalue()
