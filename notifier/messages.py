"""Alert, digest and source-health messages rendered from Jinja2 templates, escaped and cut per channel."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup

from rolewatch.domain import SIGNIFICANT_FIELDS, Event, EventType, Posting

TEMPLATE_DIR = Path(__file__).parent / "templates"
"""The built-in templates; a user's directory is searched first, so a file of the same name wins."""

DESCRIPTION_CHARS = 500
"""How much of a description an alert shows at most; less when the channel's limit needs the room."""

CHANGE_CHARS = 200
"""How much of one changed value (old or new) an alert shows at most."""

DIGEST_CHANGE_CHARS = 80
"""How much of one changed value a digest entry shows at most."""

UNTITLED_CHANNEL_TITLE_CHARS = 250
"""The title length used for channels that have no title of their own (apprise's title_maxlen 0)."""

ELLIPSIS = "…"


class MessageFormat(StrEnum):
    """The format of a message body; the values are apprise's own `body_format` names."""

    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"


@dataclass(frozen=True)
class Message:
    """One notification ready for apprise: a plain-text title and a body in `format`."""

    title: str
    body: str
    format: MessageFormat
    data: Mapping[str, Any] | None = field(default=None, compare=False)
    """What a json:// webhook receives beside title and message: the event and the posting as fields."""


@dataclass(frozen=True)
class Alert:
    """An event with the posting it is about; `opened_at` is when the posting's episode opened."""

    event: Event
    posting: Posting
    opened_at: datetime | None = None


_EXTENSIONS = {MessageFormat.HTML: "html", MessageFormat.MARKDOWN: "md", MessageFormat.TEXT: "txt"}

_VERBS = {
    EventType.NEW: "New",
    EventType.CHANGED: "Changed",
    EventType.CLOSED: "Closed",
    EventType.REOPENED: "Reopened",
}

_FIELD_LABELS = {
    "title": "Title",
    "company": "Company",
    "department": "Department",
    "locations": "Locations",
    "workplace": "Workplace",
    "employment_type": "Employment type",
    "salary": "Salary",
    "deadline": "Deadline",
    "work_rights": "Work rights",
    "url": "Link",
    "apply_url": "Apply link",
    "description": "Description",
}

_EMPLOYMENT_LABELS = {
    "full_time": "Full-time",
    "part_time": "Part-time",
    "intern": "Internship",
    "contract": "Contract",
    "temporary": "Temporary",
    "graduate": "Graduate",
}

_WORKPLACE_LABELS = {"onsite": "On-site", "hybrid": "Hybrid", "remote": "Remote"}

_VALUE_LABELS = {"employment_type": _EMPLOYMENT_LABELS, "workplace": _WORKPLACE_LABELS}

# Bidirectional controls (embeddings, overrides, isolates, marks) let a posting reorder how the
# text around it displays ("gnp.exe" tricks); C0/C1 controls are never text. Both go from every
# value a board supplies. Zero-width joiners stay: emoji sequences are built from them.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNPRINTABLE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")
_UNPRINTABLE_OR_BREAK = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")

# Characters with a meaning in CommonMark or in a chat dialect built on it (Discord spoilers `||`,
# Slack anchors `<…>`, entities `&…;`); each is escaped with a backslash wherever it appears.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>#|~&!{}])")
# These only mean something at the start of a line (lists, quotes, headings, thematic breaks).
_MARKDOWN_LINE_MARKER = re.compile(r"^([ \t]*)([-+=])", re.MULTILINE)
_MARKDOWN_LINE_NUMBER = re.compile(r"^([ \t]*\d+)([.)])", re.MULTILINE)
# Mentions that ping a whole room by their plain text: Discord and Slack-likes (`@everyone`, `@here`,
# `@channel`, `@all`, `@group`) and Matrix (`@room`). Addressed mentions (`<@id>`, `<#id>`, `<@&id>`,
# `<!here>`) need `<`, which Markdown escaping already breaks.
_MENTION = re.compile(r"@(everyone|here|channel|all|group|room)\b", re.IGNORECASE)
_ZERO_WIDTH_SPACE = "\u200b"


# ------------------------------------------------------------------------------------------------
# Cleaning and escaping board content
# ------------------------------------------------------------------------------------------------


def clean(text: str | None) -> str:
    """Board text as one line: control and bidi characters removed, whitespace collapsed."""
    if not text:
        return ""
    return " ".join(_UNPRINTABLE_OR_BREAK.sub(" ", text).split())


def escape_markdown(text: str) -> str:
    """Text that Markdown shows literally: no emphasis, links, autolinks, HTML or mentions."""
    text = _UNPRINTABLE.sub("", text)
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = _MARKDOWN_LINE_MARKER.sub(r"\1\\\2", text)
    text = _MARKDOWN_LINE_NUMBER.sub(r"\1\\\2", text)
    return neutralise_mentions(text)


def neutralise_mentions(text: str) -> str:
    """Room-wide mentions (`@everyone`, `@here`, `@room`…) shown but not pinging: a zero-width space
    after the `@` keeps them readable while no chat service matches them any more."""
    return _MENTION.sub(lambda m: f"@{_ZERO_WIDTH_SPACE}{m.group(1)}", text)


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) link, percent-encoded so no format can misread it."""
    if not url:
        return None
    url = _UNPRINTABLE_OR_BREAK.sub("", url).strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=":/?#@!$&*+,;=%~[]")


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut at a word boundary when one is near, with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit - 20 and space > 0:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def _clean_shortened(text: str | None, limit: int) -> str:
    """Clean and shorten without touching more than needed: a 1 MB description costs microseconds."""
    if not text or limit <= 0:
        return ""
    return shorten(clean(text[: limit * 4 + 64]), limit)


def _excerpt(text: str | None, limit: int) -> str:
    """A description's start with its line breaks kept, so a heading does not run into its paragraph
    ("Who we are" then "Numbat Robotics…", not "Who we are Numbat Robotics…"); blank lines dropped."""
    if not text or limit <= 0:
        return ""
    lines = (clean(line) for line in text[: limit * 4 + 64].splitlines())
    return shorten("\n".join(line for line in lines if line), limit)


#: The posting's normalised fields a webhook receives (the description only as plain text, shortened).
WEBHOOK_POSTING_FIELDS = (
    "source", "external_id", "title", "url", "apply_url", "company", "department", "locations",
    "workplace", "employment_type", "salary", "posted_at", "deadline", "work_rights",
)  # fmt: skip


def alert_data(alert: Alert) -> dict[str, Any]:
    """An alert as structured fields for a webhook: `event` as `events --format json` gives it, and
    `posting` with its normalised fields; JSON-ready (times in ISO 8601)."""
    event, posting = alert.event, alert.posting
    return {
        "event": {
            "id": event.id,
            "type": event.type.value,
            "source": event.source,
            "external_id": event.external_id,
            "title": event.title,
            "company": event.company,
            "url": event.url,
            "at": _json_ready(event.at),
            "changes": {name: [old, new] for name, (old, new) in event.changes.items()},
            "episode": event.episode,
            "repost_of": event.repost_of,
            "duplicate_of": event.duplicate_of,
        },
        "posting": {name: _json_ready(getattr(posting, name)) for name in WEBHOOK_POSTING_FIELDS},
    }


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json_ready(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_json_ready(item) for item in value]
    return value


def _finalize_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return neutralise_mentions(_UNPRINTABLE.sub("", str(value)))


def _finalize_markdown(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return escape_markdown(str(value))


def _link_html(url: str | None, label: str | None = None) -> Markup:
    if not url:
        return Markup("")
    return Markup('<a href="{0}">{1}</a>').format(url, label or url)


def _link_markdown(url: str | None, label: str | None = None) -> Markup:
    if not url:
        return Markup("")
    destination = url.replace("(", "%28").replace(")", "%29")
    return Markup(f"[{escape_markdown(label or url)}]({destination})")


def _link_text(url: str | None, label: str | None = None) -> Markup:
    return Markup(url or "")


_LINKS: dict[MessageFormat, Callable[[str | None, str | None], Markup]] = {
    MessageFormat.HTML: _link_html,
    MessageFormat.MARKDOWN: _link_markdown,
    MessageFormat.TEXT: _link_text,
}


def _escape_for(format: MessageFormat, text: str) -> str:
    """Board text as the body shows it in `format`; room-wide mentions never ping, whatever the
    format, since a plain-text channel may be a chat service (Matrix `?format=text`) or feed one."""
    if format is MessageFormat.HTML:
        return neutralise_mentions(html.escape(text, quote=False))
    if format is MessageFormat.MARKDOWN:
        return escape_markdown(text)
    return neutralise_mentions(text)


# ------------------------------------------------------------------------------------------------
# Templates
# ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _environment(format: MessageFormat, templates: Path | None) -> Environment:
    """One environment per format: HTML autoescapes, Markdown and text escape in `finalize`."""
    loaders = [FileSystemLoader(str(TEMPLATE_DIR))]
    if templates is not None:
        loaders.insert(0, FileSystemLoader(str(templates)))
    finalize = {
        MessageFormat.HTML: _finalize_text,
        MessageFormat.MARKDOWN: _finalize_markdown,
        MessageFormat.TEXT: _finalize_text,
    }[format]
    environment = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=format is MessageFormat.HTML,
        finalize=finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    environment.globals["link"] = _LINKS[format]
    return environment


def _template(kind: str, format: MessageFormat, templates: Path | None) -> Template:
    if templates is not None and not templates.is_dir():
        raise ValueError(f"template directory {templates} does not exist")
    return _environment(format, templates).get_template(f"{kind}.{_EXTENSIONS[format]}.j2")


def template_names() -> list[str]:
    """Every template a user may override, by file name."""
    return sorted(
        f"{kind}.{ext}.j2" for kind in ("alert", "digest", "health") for ext in _EXTENSIONS.values()
    )


# ------------------------------------------------------------------------------------------------
# Titles, dates and cutting
# ------------------------------------------------------------------------------------------------


def _when(moment: datetime | None, timezone: ZoneInfo) -> str:
    """`Mon 24 Nov 2025, 09:00 AEDT` in the subscriber's timezone; naive times are taken as UTC."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(timezone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".rstrip()


def duration(delta: timedelta) -> str:
    """`23 days`, `5 hours`, `12 minutes`: the largest whole unit, for "open for …"."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


def _places(posting: Posting) -> str:
    labels = [label for label in (clean(loc.label()) for loc in posting.locations) if label]
    head = "; ".join(labels[:2])
    return f"{head} +{len(labels) - 2}" if len(labels) > 2 else head


def _alert_title(alert: Alert) -> str:
    """`New: Data Scientist Intern — TikTok · Sydney, AU` (first two locations, then +N)."""
    role = clean(alert.posting.title or alert.event.title) or "Untitled role"
    company = clean(alert.posting.company or alert.event.company)
    title = f"{_VERBS[alert.event.type]}: {role}"
    if company:
        title += f" — {company}"
    places = _places(alert.posting)
    if places:
        title += f" · {places}"
    return title


def _fit_title(title: str, title_maxlen: int, format: MessageFormat) -> str:
    """A title within the channel's limit, as safe as the body.

    A channel whose service shows the title inside the message text (`title_maxlen` 0: apprise
    merges it into the body, or the service pastes it into the text it renders) gets it escaped
    exactly as the body, and short enough to stay within `UNTITLED_CHANNEL_TITLE_CHARS` once
    escaped. A separate title field is plain text to the service (an e-mail subject, a Slack or
    Matrix heading that apprise escapes itself), so it stays plain, its room-wide mentions
    neutralised all the same.
    """
    if title_maxlen > 0:
        return shorten(neutralise_mentions(title), title_maxlen)
    limit = UNTITLED_CHANNEL_TITLE_CHARS
    while True:
        escaped = _escape_for(format, shorten(title, limit))
        overflow = len(escaped) - UNTITLED_CHANNEL_TITLE_CHARS
        if overflow <= 0 or limit <= 1:
            return escaped
        limit = max(limit - overflow, 1)


def _body_budget(title: str, limits: tuple[int, int]) -> int:
    """Room for the body: apprise puts the title in front of it on channels without titles."""
    title_maxlen, body_maxlen = limits
    overhead = len(title) + 16 if title_maxlen <= 0 else 0
    return max(body_maxlen - overhead, 1)


def _tail_from(body: str, anchor: str) -> str:
    """The body from the start of the line holding `anchor` (the link) to its end."""
    at = body.rfind(anchor) if anchor else -1
    if at < 0:
        return ""
    return body[body.rfind("\n", 0, at) + 1 :]


def _safe_cut(head: str, format: MessageFormat) -> str:
    """Drop a half-written tag, entity or escape at the end of a cut body."""
    if format is MessageFormat.HTML:
        if head.rfind("<") > head.rfind(">"):
            head = head[: head.rfind("<")]
        if head.rfind("&") > head.rfind(";"):
            head = head[: head.rfind("&")]
    elif format is MessageFormat.MARKDOWN and (len(head) - len(head.rstrip("\\"))) % 2:
        head = head[:-1]
    return head


def hard_cut(body: str, budget: int, format: MessageFormat, anchor: str = "") -> str:
    """Cut a rendered body to `budget`, keeping the line with `anchor` (the posting's link) whole."""
    if len(body) <= budget:
        return body
    tail = _tail_from(body, anchor)
    separator = f"{ELLIPSIS}\n\n"
    room = budget - len(tail) - len(separator)
    if not tail or room <= 0:
        return _safe_cut(body[: max(budget - 1, 0)], format) + ELLIPSIS[: budget > 0]
    head = body[:room]
    line_end = head.rfind("\n")
    if line_end >= room // 2:  # whole lines read better, and keep HTML elements on them whole
        head = head[: line_end + 1]
    return _safe_cut(head, format) + separator + tail


def _anchor(format: MessageFormat, url: str | None) -> str:
    """What the rendered link looks like in `format`: the text to find it by in a rendered body."""
    if not url:
        return ""
    if format is MessageFormat.HTML:
        return str(Markup.escape(url))
    if format is MessageFormat.MARKDOWN:
        return url.replace("(", "%28").replace(")", "%29")
    return url


# ------------------------------------------------------------------------------------------------
# Alerts
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One changed field of a posting as the templates see it: label, old value, new value."""

    field: str
    label: str
    old: str
    new: str


def _changes(changes: Mapping[str, tuple[str, str]], limit: int) -> list[Change]:
    order = {name: index for index, name in enumerate(SIGNIFICANT_FIELDS)}
    fields = sorted(changes, key=lambda name: (order.get(name, len(order)), name))
    return [_change(name, *changes[name], limit=limit) for name in fields]


def _change(name: str, old: str, new: str, *, limit: int) -> Change:
    labels = _VALUE_LABELS.get(name, {})
    label = _FIELD_LABELS.get(name, name.replace("_", " ").capitalize())

    def show(value: str) -> str:
        value = labels.get(value, value)
        return _clean_shortened(value, limit) or "—"

    return Change(field=name, label=label, old=show(old), new=show(new))


def _posting_context(alert: Alert, timezone: ZoneInfo) -> dict[str, Any]:
    """What alerts and digest entries share: the role, where, what kind, pay, dates and link."""
    posting, event = alert.posting, alert.event
    locations = [label for label in (clean(loc.label()) for loc in posting.locations) if label]
    open_for = duration(event.at - alert.opened_at) if alert.opened_at is not None else None
    workplace = _WORKPLACE_LABELS.get(posting.workplace or "", clean(posting.workplace))
    return {
        "kind": str(event.type),
        "verb": _VERBS[event.type],
        "source": clean(event.source),
        "role": clean(posting.title or event.title) or "Untitled role",
        "company": clean(posting.company or event.company),
        "department": clean(posting.department),
        "locations": locations,
        "locations_label": "; ".join(locations),
        "workplace": workplace,
        # Beside the locations only when they do not say it already ("Remote, US", not "Remote, US (Remote)").
        "workplace_note": "" if locations and all(workplace in label for label in locations) else workplace,
        "employment_type": _EMPLOYMENT_LABELS.get(
            posting.employment_type or "", clean(posting.employment_type)
        ),
        "salary": clean(posting.salary.spelled_label()) if posting.salary else "",
        "posted": _when(posting.posted_at, timezone),
        "deadline": _when(posting.deadline, timezone),
        "event_at": _when(event.at, timezone),
        "opened": _when(alert.opened_at, timezone),
        "open_for": open_for,
        "url": safe_url(posting.url) or safe_url(posting.apply_url) or safe_url(event.url),
        "apply_url": safe_url(posting.apply_url),
        "repost": event.repost_of is not None,
        "timezone": timezone.key,
    }


def _alert_context(
    alert: Alert, title: str, timezone: ZoneInfo, description_chars: int, change_chars: int
) -> dict[str, Any]:
    description = alert.posting.description_text
    excerpt = _excerpt(description, description_chars)
    return {
        **_posting_context(alert, timezone),
        "title": title,
        "description": excerpt,
        "description_cut": len(excerpt) < len(description.strip()),
        "changes": _changes(alert.event.changes, change_chars),
        "event": alert.event,
        "posting": alert.posting,
    }


def render_alert(
    alert: Alert,
    *,
    format: MessageFormat,
    timezone: ZoneInfo,
    limits: tuple[int, int],
    templates: Path | None = None,
) -> Message:
    """One alert as a message within the channel's (title_maxlen, body_maxlen).

    Room is made by shortening the description, then the changed values; only when that is not
    enough is the body cut, and even then the line with the link to the posting is kept.
    """
    title = _fit_title(_alert_title(alert), limits[0], format)
    budget = _body_budget(title, limits)
    template = _template("alert", format, templates)
    description_chars = min(DESCRIPTION_CHARS, budget)
    change_chars = CHANGE_CHARS
    for _ in range(8):
        context = _alert_context(alert, title, timezone, description_chars, change_chars)
        body = template.render(context).strip()
        overflow = len(body) - budget
        if overflow <= 0:
            return Message(title, body, format)
        if context["description"]:
            description_chars = max(0, len(context["description"]) - overflow - 1)
        elif change_chars > 20 and context["changes"]:
            change_chars = max(20, change_chars // 2)
        else:
            break
    return Message(title, hard_cut(body, budget, format, _anchor(format, context["url"])), format)


# ------------------------------------------------------------------------------------------------
# Digests
# ------------------------------------------------------------------------------------------------


def _company_key(alert: Alert) -> tuple[bool, str]:
    company = clean(alert.posting.company or alert.event.company)
    return (not company, company.casefold())


def _at_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _digest_entry(alert: Alert, timezone: ZoneInfo) -> dict[str, Any]:
    return {
        **_posting_context(alert, timezone),
        "changes": _changes(alert.event.changes, DIGEST_CHANGE_CHARS),
        "event": alert.event,
        "posting": alert.posting,
    }


def _groups(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive entries of one company as one group (the entries are sorted by company)."""
    groups: list[dict[str, Any]] = []
    for entry in entries:
        company = entry["company"] or "Other companies"
        if not groups or groups[-1]["company"] != company:
            groups.append({"company": company, "alerts": []})
        groups[-1]["alerts"].append(entry)
    return groups


def _count_roles(alerts: Sequence[Alert]) -> int:
    return len({(a.event.source, a.event.external_id) for a in alerts})


def render_digest(
    alerts: Sequence[Alert],
    *,
    subscription: str,
    format: MessageFormat,
    timezone: ZoneInfo,
    limits: tuple[int, int],
    templates: Path | None = None,
) -> list[Message]:
    """The alerts of one digest period grouped by company, as one message or, when that is longer
    than the channel allows, as several (`(1/3)` …), never cutting one alert in half."""
    ordered = sorted(alerts, key=lambda a: (_company_key(a), _at_utc(a.event.at)))
    entries = [_digest_entry(alert, timezone) for alert in ordered]
    roles = _count_roles(ordered)
    base_title = f"rolewatch digest — {clean(subscription)}: {roles} role{'s' if roles != 1 else ''}"
    template = _template("digest", format, templates)
    longest_title = _fit_title(f"{base_title} ({len(entries)}/{len(entries)})", limits[0], format)
    budget = _body_budget(longest_title, limits)

    def render(chunk: list[dict[str, Any]], part: int, parts: int, title: str) -> str:
        context = {
            "title": title,
            "subscription": clean(subscription),
            "count": len(entries),
            "roles": roles,
            "groups": _groups(chunk),
            "part": part,
            "parts": parts,
            "timezone": timezone.key,
        }
        return template.render(context).strip()

    whole = render(entries, 1, 1, _fit_title(base_title, limits[0], format))
    if len(whole) <= budget:
        return [Message(_fit_title(base_title, limits[0], format), whole, format)]
    chunks = _pack(entries, budget, lambda chunk: render(chunk, len(entries), len(entries), longest_title))
    messages = []
    for part, chunk in enumerate(chunks, start=1):
        title = _fit_title(f"{base_title} ({part}/{len(chunks)})", limits[0], format)
        body = render(chunk, part, len(chunks), title)
        anchor = _anchor(format, chunk[-1]["url"])
        messages.append(Message(title, hard_cut(body, budget, format, anchor), format))
    return messages


def _pack(
    entries: list[dict[str, Any]], budget: int, render: Callable[[list[dict[str, Any]]], str]
) -> list[list[dict[str, Any]]]:
    """Greedy packing by what each entry adds after the one before it (a company heading only
    when the company changes), then each chunk checked and halved if a template surprises us."""
    alone = [len(render([entry])) for entry in entries]
    chunks: list[list[dict[str, Any]]] = []
    size = 0
    for index, entry in enumerate(entries):
        if chunks:
            previous = entries[index - 1]
            added = len(render([previous, entry])) - alone[index - 1]
            if size + added <= budget:
                chunks[-1].append(entry)
                size += added
                continue
        chunks.append([entry])
        size = alone[index]
    return [piece for chunk in chunks for piece in _halve_until_fits(chunk, budget, render)]


def _halve_until_fits(
    chunk: list[dict[str, Any]], budget: int, render: Callable[[list[dict[str, Any]]], str]
) -> list[list[dict[str, Any]]]:
    if len(chunk) == 1 or len(render(chunk)) <= budget:
        return [chunk]
    middle = len(chunk) // 2
    return _halve_until_fits(chunk[:middle], budget, render) + _halve_until_fits(
        chunk[middle:], budget, render
    )


# ------------------------------------------------------------------------------------------------
# Source health
# ------------------------------------------------------------------------------------------------


def render_health(
    source: str,
    *,
    failing: bool,
    crawls: int,
    reason: str,
    since: datetime,
    format: MessageFormat,
    timezone: ZoneInfo,
    limits: tuple[int, int],
    templates: Path | None = None,
    now: datetime | None = None,
) -> Message:
    """An operator message: `source` has failed `crawls` crawls in a row since `since`, or has
    recovered after them. `now` (default: the current time) measures how long it lasted."""
    name = clean(source)
    if failing:
        plain_title = f"rolewatch: source {name} is failing ({crawls} crawl{'s' if crawls != 1 else ''})"
    else:
        plain_title = f"rolewatch: source {name} recovered"
    title = _fit_title(plain_title, limits[0], format)
    budget = _body_budget(title, limits)
    lasted = (now or datetime.now(UTC)) - _at_utc(since)
    context = {
        "title": title,
        "source": name,
        "failing": failing,
        "crawls": crawls,
        "reason": _clean_shortened(reason, max(budget // 2, 1)),
        "since": _when(since, timezone),
        "lasted": duration(lasted),
        "timezone": timezone.key,
    }
    body = _template("health", format, templates).render(context).strip()
    return Message(title, hard_cut(body, budget, format), format)
