"""Workable parts that need no crawl: the request, and the merge of one job's per-location rows."""

from __future__ import annotations

import json
from typing import Any

from crawler.spider import Board, raw_digest
from crawler.spiders.workable import WorkableSpider, merge_rows
from rolewatch.resolve import parse_config
from tests.fixtures.workable import workable_place, workable_row


def board(**options: Any) -> Board[Any]:
    entry = {"name": "numbat", "type": "workable", "account": "numbat", **options}
    (source,) = parse_config(json.dumps({"sources": [entry]})).resolved_sources()
    return Board(source.name, source.options, source)


def test_the_request_is_the_v1_widget_with_details() -> None:
    (request,) = WorkableSpider().start_requests_for(board())
    assert request.url == "https://apply.workable.com/api/v1/widget/accounts/numbat?details=true"
    assert request.headers["Accept"] == b"application/json"


def test_merged_records_do_not_depend_on_row_order() -> None:
    spain = workable_row("DD1", "Analyst", workable_place("Spain", "ES"))
    portugal = workable_row("DD1", "Analyst", workable_place("Portugal", "PT"))
    other = workable_row("EE2", "Engineer", workable_place("Spain", "ES", "Madrid"))
    (one, two) = merge_rows([spain, other, portugal], account_name="Acme")
    (again, _) = merge_rows([portugal, spain, other], account_name="Acme")
    assert raw_digest(one) == raw_digest(again) and WorkableSpider().record_id(one) == "DD1"
    assert [place["country"] for place in one["locations"]] == ["Portugal", "Spain"]
    assert "country" not in one and one["account_name"] == "Acme" and two["shortcode"] == "EE2"


def test_a_row_without_locations_names_its_place_at_the_top_level() -> None:
    row = workable_row("FF3", "Engineer", workable_place("Brazil", "BR", "São Paulo", "SP"))
    del row["locations"]
    (record,) = merge_rows([row])
    posting = WorkableSpider().to_posting(record, board(company="Numbat"))
    assert [(p.city, p.country) for p in posting.locations] == [("São Paulo", "BR")]
    assert posting.company == "Numbat"
