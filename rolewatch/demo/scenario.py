"""What the demo watches: the bundled sample boards, the rounds that change them, the configuration."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from typing import Any

from rolewatch.config import format_duration

#: The demo subscription: what a student looking for a first role might ask for.
SUBSCRIPTION = "interns"
QUERY = "intern OR internship OR graduate"


@dataclass(frozen=True)
class SampleBoard:
    """One bundled board: its sample file, the source that watches it, and where the server has it."""

    key: str
    source: str
    type: str
    file: str
    path: str
    label: str
    #: The object key holding the records (Greenhouse's `jobs`), or None for a bare JSON array.
    wrapper: str | None = None
    #: Lever pages with skip/limit; the others send the whole board at once.
    paged: bool = False

    def source_yaml(self, server: str) -> str:
        q = json.dumps
        if self.type == "greenhouse":
            return f"{{name: {self.source}, type: greenhouse, board: wombat, base_url: {q(server)}}}"
        if self.type == "lever":
            return (
                f"{{name: {self.source}, type: lever, site: numbat, company: Numbat Robotics, "
                f"base_url: {q(server)}}}"
            )
        url = q(server + self.path)
        return f"{{name: {self.source}, type: simplify, url: {url}, employment_type: intern}}"


BOARDS = (
    SampleBoard(
        "greenhouse",
        "wombat",
        "greenhouse",
        "greenhouse.json",
        "/v1/boards/wombat/jobs",
        "Wombat Data Co.'s Greenhouse board",
        wrapper="jobs",
    ),
    SampleBoard(
        "lever",
        "numbat",
        "lever",
        "lever.json",
        "/v0/postings/numbat",
        "Numbat Robotics' Lever site",
        paged=True,
    ),
    SampleBoard(
        "simplify",
        "internships",
        "simplify",
        "simplify.json",
        "/internships/listings.json",
        "a student internship list (Simplify-style listings.json)",
    ),
)


@dataclass(frozen=True)
class Step:
    """One scripted round: what happens, which postings are off their board, and the edits it makes."""

    headline: str
    story: str
    withhold: Mapping[str, frozenset[str]] = field(default_factory=dict)
    edits: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)


def _step(raw: Mapping[str, Any]) -> Step:
    return Step(
        headline=str(raw["headline"]),
        story=str(raw["story"]),
        withhold={key: frozenset(map(str, ids)) for key, ids in (raw.get("withhold") or {}).items()},
        edits=raw.get("edit") or {},
    )


class Scenario:
    """The sample boards and how `samples/scenario.json` changes them, round by round.

    A round's edits stay made in later rounds; the postings it withholds are off their board in
    that round only. Rounds after the scripted ones are quiet: the boards stay as the last left them.
    """

    def __init__(
        self, records: Mapping[str, list[dict[str, Any]]], steps: Sequence[Step], quiet: Step
    ) -> None:
        if not steps:
            raise ValueError("the demo scenario has no rounds")
        self._records = records
        self.steps = list(steps)
        self.quiet = quiet

    @classmethod
    def load(cls) -> Scenario:
        samples = resources.files("rolewatch").joinpath("samples")
        records: dict[str, list[dict[str, Any]]] = {}
        for board in BOARDS:
            data = json.loads(samples.joinpath(board.file).read_text(encoding="utf-8"))
            records[board.key] = list(data[board.wrapper] if board.wrapper else data)
        script = json.loads(samples.joinpath("scenario.json").read_text(encoding="utf-8"))
        return cls(records, [_step(raw) for raw in script["rounds"]], _step(script["quiet"]))

    def step(self, number: int) -> Step:
        return self.steps[number - 1] if number <= len(self.steps) else self.quiet

    def board(self, board: SampleBoard, number: int) -> list[dict[str, Any]]:
        """The records `board` lists in round `number` (counted from 1)."""
        scripted = self.steps[: min(number, len(self.steps))]
        withheld = scripted[-1].withhold.get(board.key, frozenset())
        listed = []
        for original in self._records[board.key]:
            record = copy.deepcopy(original)
            key = str(record["id"])
            for step in scripted:
                _apply(record, step.edits.get(board.key, {}).get(key, {}))
            if key not in withheld:
                listed.append(record)
        return listed


def _apply(record: dict[str, Any], edit: Mapping[str, Any]) -> None:
    unknown = set(edit) - {"set"}
    if unknown:
        raise ValueError(f"the demo scenario's edit of {record['id']} has unknown keys {sorted(unknown)}")
    record.update(edit.get("set") or {})


def config_yaml(database: str, server: str, interval: timedelta, channels: Sequence[str]) -> str:
    """The demo's configuration, as a user would write it in rolewatch.yaml."""
    q = json.dumps
    sources = "".join(f"  - {board.source_yaml(server)}\n" for board in BOARDS)
    return (
        "# rolewatch demo: three sample boards served on 127.0.0.1 while the demo ran.\n"
        f"database: {q(database)}\n"
        "defaults:\n"
        f"  interval: {format_duration(interval)}\n"
        "  jitter: 0%\n"
        "  close_after_misses: 1   # one crawl without a posting closes it (the default, 2, is steadier)\n"
        "  timeout: 30s\n"
        "  politeness: {delay: 0s, autothrottle: false, retries: 1, request_timeout: 10s}\n"
        f"sources:\n{sources}"
        "subscriptions:\n"
        f"  - name: {SUBSCRIPTION}\n"
        f"    query: {q(QUERY)}\n"
        "    events: [new, changed, closed, reopened]\n"
        f"    notify: [{', '.join(q(url) for url in channels)}]\n"
        "delivery: {first_retry: 5s, retry_for: 1m, send_timeout: 10s}\n"
        "daemon: {grace: 10s, deliver_every: 1s}\n"
    )
