"""`rolewatch postings` searches as a subscription matches and exports every field, on each backend.

The commands run in process (`tests/acceptance/command_line.py`) against a seeded database.
"""

from __future__ import annotations

import csv
import dataclasses
import gc
import io
import json
import re
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from rolewatch.domain import Location, Salary, WorkRights
from rolewatch.output import EVENT_FIELDS, posting_fields
from tests.acceptance.command_line import Finished, rolewatch
from tests.integration.storage_factory import Board, posting

BERLIN = Location("Berlin, Germany", city="Berlin", country="DE")
REMOTE_US = Location("Remote, US", country="US", remote=True)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
SPEC_EVENT = ["id", "type", "source", "external_id", "title", "company", "url", "at", "changes"]


def seed(engine: Engine) -> None:
    """Five postings on two sources, each differing in one filter; one closed, one changed."""
    start = datetime.now(UTC) - timedelta(hours=3)
    hourly = Salary(45, 55, "USD", "hour")
    ml = dataclasses.replace(
        posting(2, title="ML Engineer, New Grad", company="Numbat", locations=(BERLIN,)),
        employment_type="graduate",
        workplace="hybrid",
        salary=hourly,
        work_rights=WorkRights("offered", ("EU work permit",)),
        deadline=datetime(2027, 1, 31, tzinfo=UTC),
    )
    senior = dataclasses.replace(posting(3, title="Senior Data Engineer"), employment_type="full_time")
    remote = dataclasses.replace(
        posting(4, title="Data Analyst Intern", locations=(REMOTE_US,)),
        workplace="remote",
        salary=Salary(30, 30, "USD", "hour"),
    )
    acme = Board(engine, "acme", close_after_misses=1, start=start)
    acme.crawl([posting(1, salary=90_000), ml, senior, remote])
    acme.crawl([posting(1, salary=95_000), ml, remote])  # 3 closes, 1 changes
    other = Board(engine, "globex", start=start)
    other.crawl([posting(7, source="globex", title="Backend Engineer", company="Globex")])


CONFIG = """
sources:
  - {name: acme, type: greenhouse, board: acme}
  - {name: globex, type: lever, site: globex}
  - {name: initech, type: lever, site: initech}
subscriptions:
  - name: grads
    query: 'title:"new grad"'
"""


@pytest.fixture
def config_dir(engine: Engine, tmp_path: Path) -> Path:
    seed(engine)
    url = engine.url.render_as_string(hide_password=False)
    (tmp_path / "rolewatch.yaml").write_text(f"database: '{url}'\n{CONFIG}", encoding="utf-8")
    return tmp_path


def run(where: Path, *args: str) -> Finished:
    with warnings.catch_warnings():
        # The CLI leaves its engine to the garbage collector (a process exits after one command);
        # collected here, its pooled PostgreSQL connections must not warn in some later test.
        warnings.simplefilter("ignore", ResourceWarning)
        finished = rolewatch(where, "--config", str(where / "rolewatch.yaml"), *args)
        gc.collect()
    return finished


def found(where: Path, *args: str) -> list[str]:
    """External ids `postings ARGS` lists, in its order."""
    result = run(where, "postings", *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return [row["external_id"] for row in json.loads(result.stdout)]


def test_postings_search_in_the_subscription_language_with_its_filters(config_dir: Path) -> None:
    assert found(config_dir) == ["1", "2", "3", "4", "7"]
    assert found(config_dir, "--query", "title:(data OR ml) AND NOT senior") == ["1", "2", "4"]
    assert found(config_dir, "--query", 'title:"new grad"') == ["2"]
    assert found(config_dir, "--query", "engineer", "--open") == ["2", "7"]
    assert found(config_dir, "--location", "Germany") == ["2"]
    assert found(config_dir, "--location", "sydney", "--location", "remote") == ["1", "3", "4", "7"]
    assert found(config_dir, "--employment-type", "graduate", "--employment-type", "full_time") == ["2", "3"]
    assert found(config_dir, "--company", "NUMBAT") == ["2"]
    assert found(config_dir, "--workplace", "remote") == ["4"]
    assert found(config_dir, "--min-salary", "40:USD:hour") == ["2"]
    assert found(config_dir, "--min-salary", "80000:AUD") == ["1"]
    assert found(config_dir, "--source", "globex") == ["7"]
    assert found(config_dir, "--query", "intern", "--source", "acme", "--limit", "1") == ["1"]
    assert found(config_dir, "--source", "initech") == []  # configured, nothing stored yet


def test_a_search_that_does_not_parse_is_a_usage_error(config_dir: Path) -> None:
    bad = run(config_dir, "postings", "--query", "title:(data OR")
    assert bad.returncode == 2 and "--query" in bad.stderr and "position" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
    unknown = run(config_dir, "postings", "--source", "acmee")
    assert unknown.returncode == 2
    assert "unknown source 'acmee'" in unknown.stderr and "acme, globex, initech" in unknown.stderr
    assert run(config_dir, "events", "--source", "nope").returncode == 2
    salary = run(config_dir, "postings", "--min-salary", "40")
    assert salary.returncode == 2 and "AMOUNT:CURRENCY" in salary.stderr
    currency = run(config_dir, "postings", "--min-salary", "40:dollars:hour")
    assert currency.returncode == 2 and "min_salary.currency" in currency.stderr
    workplace = run(config_dir, "postings", "--workplace", "moon")
    assert workplace.returncode == 2 and "workplace" in workplace.stderr


def test_subscriptions_test_tries_an_ad_hoc_query(config_dir: Path) -> None:
    own = json.loads(run(config_dir, "subscriptions", "test", "grads", "--format", "json").stdout)
    assert [row["title"] for row in own] == ["ML Engineer, New Grad"]
    tried = run(config_dir, "subscriptions", "test", "grads", "--query", "title:backend", "--format", "json")
    assert [row["title"] for row in json.loads(tried.stdout)] == ["Backend Engineer"]
    bad = run(config_dir, "subscriptions", "test", "grads", "--query", "AND")
    assert bad.returncode == 2 and "--query" in bad.stderr


def exported(where: Path, fmt: str, *args: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The keys and rows of an export, parsed from `fmt`."""
    result = run(where, *args, "--format", fmt)
    assert result.returncode == 0, result.stderr
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(result.stdout))
        rows = list(reader)
        return list(reader.fieldnames or []), rows
    rows = json.loads(result.stdout) if fmt == "json" else [json.loads(x) for x in result.stdout.splitlines()]
    return (list(rows[0]) if rows else []), rows


def test_postings_exports_carry_every_field_in_every_format(config_dir: Path) -> None:
    fields = list(posting_fields())
    for fmt in ("json", "jsonl", "csv"):
        keys, rows = exported(config_dir, fmt, "postings")
        assert keys == fields, fmt
        ml = next(row for row in rows if row["external_id"] == "2")
        assert ml["salary"] == "USD 45–55/hr" and ml["salary_currency"] == "USD"
        assert ml["salary_period"] == "hour" and float(ml["salary_min"]) == 45
        assert ml["workplace"] == "hybrid" and ml["employment_type"] == "graduate"
        assert ml["sponsorship"] == "offered" and ml["work_rights"] == "offered, EU work permit"
        assert ml["deadline"] == "2027-01-31T00:00:00Z" and ml["url"] == "https://acme.example/jobs/2"
        assert ml["locations"] == "Berlin, DE" and ml["status"] == "open"
        for name in ("first_seen_at", "last_seen_at"):
            assert ISO.match(ml[name]), (fmt, name, ml[name])
        assert "description_text" not in ml
    keys, rows = exported(config_dir, "csv", "postings", "--description")
    assert keys == list(posting_fields(description=True))
    assert rows[0]["description_text"] == "Role number 1." and rows[0]["description_html"].startswith("<p>")
    json_rows = json.loads(run(config_dir, "postings", "--description", "--format", "json").stdout)
    assert all(isinstance(v, str | int | float | bool | None) for row in json_rows for v in row.values())


def test_empty_exports_keep_their_header(config_dir: Path) -> None:
    empty = run(config_dir, "postings", "--query", "astronaut", "--format", "csv")
    assert empty.stdout.splitlines() == [",".join(posting_fields())]
    assert run(config_dir, "postings", "--query", "astronaut", "--format", "json").stdout.strip() == "[]"
    events = run(config_dir, "events", "--type", "reopened", "--format", "csv")
    assert events.stdout.splitlines() == [",".join(EVENT_FIELDS)]


def test_events_exports_keep_the_spec_shape_and_add_to_it(config_dir: Path) -> None:
    for fmt in ("json", "jsonl", "csv"):
        keys, rows = exported(config_dir, fmt, "events", "--since", "1d")
        assert keys == list(EVENT_FIELDS) and keys[: len(SPEC_EVENT)] == SPEC_EVENT, fmt
        assert {row["type"] for row in rows} == {"new", "changed", "closed"}
        assert all(ISO.match(row["at"]) for row in rows), fmt
        changed = next(row for row in rows if row["type"] == "changed")
        changes = json.loads(changed["changes"]) if fmt == "csv" else changed["changes"]
        assert changes["salary"][1] == "AUD 95,000/yr"
        assert str(changed["episode"]) == "1"
