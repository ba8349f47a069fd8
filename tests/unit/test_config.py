"""Configuration: defaults in one place, every problem named by its path, environment overrides."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rolewatch.config import ConfigError, Schedule, environment_value, parse_duration
from rolewatch.example import example_config
from rolewatch.resolve import parse_config
from rolewatch.safe_yaml import MAX_ALIAS_NODES, load_yaml

GOOD = """
database: sqlite:///x.db
defaults:
  interval: 15m
sources:
  - {name: stripe, type: greenhouse, board: stripe}
  - {name: palantir, type: lever, site: palantir, interval: "*/10 * * * *", base_url: "https://api.eu.lever.co"}
  - {name: simplify-summer, type: simplify, url: "http://127.0.0.1:1/listings.json", close_after_misses: 3}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        (30, timedelta(seconds=30)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_durations_read_as_people_write_them(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_defaults_apply_unless_a_source_overrides_them() -> None:
    config = parse_config(GOOD)
    stripe, palantir, simplify = config.resolved_sources()
    assert stripe.interval == Schedule(every=timedelta(minutes=15))
    assert palantir.interval == Schedule(cron="*/10 * * * *")
    assert stripe.close_after_misses == 2 and simplify.close_after_misses == 3
    assert stripe.max_drop == 0.5 and stripe.jitter == 0.1
    assert stripe.timeout == timedelta(minutes=5)
    assert stripe.politeness.concurrency_per_host == 2
    assert "rolewatch/" in stripe.user_agent
    assert getattr(palantir.options, "base_url", None) == "https://api.eu.lever.co"
    assert getattr(stripe.options, "board", None) == "stripe"


def test_three_mistakes_are_reported_together_by_path() -> None:
    text = """
defaults:
  interval: often
sources:
  - {name: stripe, type: greenhouse}
  - {name: x, type: workdayy}
  - {name: ok, type: lever, site: palantir, max_drop: 150%}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    problems = caught.value.problems
    assert any(p.startswith("defaults.interval: not a duration: 'often'") for p in problems), problems
    assert "sources[0].board: field required" in problems, problems
    assert any(p.startswith("sources[1].type: unknown source type 'workdayy'") for p in problems), problems
    assert any(p.startswith("sources[2].max_drop: must be between 0% and 100%") for p in problems), problems


def test_unknown_keys_are_refused_by_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            "sources:\n  - {name: s, type: greenhouse, board: b, bord: typo}\ndefaults: {intervl: 5m}\n"
        )
    assert caught.value.problems == [
        "sources[0].bord: extra inputs are not permitted; did you mean 'board'?",
        "defaults.intervl: extra inputs are not permitted; did you mean 'interval'?",
    ]


def test_problems_come_in_file_order_with_duplicates_in_the_same_pass(tmp_path) -> None:
    text = (
        "defaults: {jitter: lots}\n"
        "sources:\n"
        "  - {name: a, type: greenhouse, board: b}\n"
        "  - {name: a, type: lever, site: c, intervl: 5m}\n"
        "subscriptions:\n"
        "  - {name: s, workplace: [moon]}\n"
        "  - {name: s}\n"
        "delivery: {batchh: 3}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert [problem.split(":")[0] for problem in caught.value.problems] == [
        "defaults.jitter",
        "sources[1].name",
        "sources[1].intervl",
        "subscriptions[0].workplace (s)",
        "subscriptions[1].name",
        "delivery.batchh",
    ], caught.value.problems
    assert "did you mean 'interval'?" in caught.value.problems[2]
    assert "did you mean 'batch'?" in caught.value.problems[5]


def test_an_empty_configuration_file_is_an_error(tmp_path) -> None:
    from rolewatch.resolve import load_config

    for text in ("", "\n# only a comment\n"):
        (tmp_path / "rolewatch.yaml").write_text(text)
        with pytest.raises(ConfigError, match="is empty"):
            load_config(tmp_path / "rolewatch.yaml", {})


def test_an_unknown_subscription_lists_the_known_names() -> None:
    config = parse_config("subscriptions: [{name: grads}, {name: interns}]\n")
    with pytest.raises(ConfigError, match=r"unknown subscription 'x' \(known: grads, interns\)"):
        config.subscription("x")


def test_duplicate_source_names_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"sources\[1\].name: duplicate name .a. \(also sources\[0\]\)"):
        parse_config(
            "sources:\n  - {name: a, type: greenhouse, board: b}\n  - {name: a, type: lever, site: c}\n"
        )


def test_bad_cron_and_bad_yaml_are_clear() -> None:
    with pytest.raises(ConfigError, match="not a cron expression"):
        parse_config("defaults: {interval: '61 * * * *'}\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+"):
        parse_config("sources:\n  - {name: [\n")


def test_environment_overrides_any_key() -> None:
    environ = {
        "ROLEWATCH_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "ROLEWATCH_DEFAULTS__INTERVAL": "2h",
        "ROLEWATCH_DEFAULTS__POLITENESS__RETRIES": "0",
        "ROLEWATCH_SOURCES__0__BOARD": "other-board",
        "UNRELATED": "x",
    }
    config = parse_config(GOOD, environ)
    assert config.database == "postgresql+psycopg://u@h/db"
    assert config.defaults.interval == Schedule(every=timedelta(hours=2))
    assert config.defaults.politeness.retries == 0
    assert getattr(config.source("stripe").options, "board", None) == "other-board"


def test_a_bad_environment_value_is_reported_under_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(GOOD, {"ROLEWATCH_DEFAULTS__JITTER": "lots"})
    assert any(p.startswith("defaults.jitter:") for p in caught.value.problems)


def test_the_example_that_init_writes_is_valid_and_echoes_the_defaults() -> None:
    text = example_config()
    config = parse_config(text)
    assert {s.type for s in config.sources} >= {"greenhouse", "lever", "simplify"}
    assert "interval: 30m" in text and "close_after_misses: 2" in text and "max_drop: 50%" in text


def test_the_example_writes_every_section_with_its_defaults_and_a_subscription_to_uncomment() -> None:
    from rolewatch.config import Config

    text = example_config()
    written = load_yaml(text)
    config = parse_config(text, {})
    for section in (
        "database",
        "engine",
        "defaults",
        "sources",
        "subscriptions",
        "operators",
        "delivery",
        "daemon",
        "web",
    ):
        assert section in written, section
    assert set(written) >= set(Config.model_fields) - {"salary_conversions"}
    for section in ("operators", "delivery", "daemon", "web"):
        default = getattr(Config(), section)
        assert getattr(config, section) == default, section
        for key, value in default:
            if value is not None and not hasattr(type(value), "model_fields"):
                assert key in written[section], f"{section}.{key}"
            else:
                assert f"# {key}:" in text or key == "auth", f"{section}.{key} shown commented"
    # The comments of one section line up.
    delivery = text.split("\ndelivery:\n")[1].split("\n\n")[0].splitlines()
    assert len({line.index("# ", 4) for line in delivery}) == 1, delivery
    # The commented subscription is valid once uncommented, and shows every key.
    lines = text.split("subscriptions: []")[1].split("\n\n")[0].splitlines()[1:]
    uncommented = "subscriptions:\n" + "\n".join(line.replace("  # ", "  ", 1) for line in lines)
    subscription = parse_config(uncommented, {}).subscriptions[0]
    assert subscription.name == "grad-data" and subscription.min_salary is not None
    for key in type(subscription).model_fields:
        assert f" {key}: " in uncommented, key


def test_naming_an_unknown_source_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="unknown source 'nope'"):
        parse_config(GOOD).resolved_sources(["nope"])


def test_every_subscription_problem_is_reported_with_its_name() -> None:
    import yaml

    subscription = {
        "name": "ds-interns",
        "query": 'title:(intern AND "data',
        "employment_types": ["intrn"],
        "workplace": ["moon"],
        "sponsorship": ["maybe"],
        "digest": "fortnightly",
        "timezone": "Mars/Olympus",
        "notify": ["notascheme://user:s3cret@host/path"],
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump({"subscriptions": [subscription]}))
    problems = caught.value.problems
    for key in ("query", "employment_types", "workplace", "sponsorship", "digest", "timezone", "notify"):
        assert any(p.startswith(f"subscriptions[0].{key} (ds-interns): ") for p in problems), (key, problems)
    assert any("position" in p for p in problems if ".query" in p)
    assert "s3cret" not in "\n".join(problems)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", "15m"),
        ("0", 0),
        ("-3", -3),
        ("2.5", 2.5),
        ("true", True),
        ("False", False),
        ("null", None),
        ("", ""),
        ("[new, closed]", ["new", "closed"]),
        ("{amount: 40, currency: USD}", {"amount": 40, "currency": "USD"}),
        ("a #b", "a #b"),  # YAML would cut a comment
        ("key: value", "key: value"),  # YAML would read a mapping
        ("13:30", "13:30"),  # YAML 1.1 would read 810
        ("no", "no"),  # YAML 1.1 would read False (Norway's country code)
        ("'quoted'", "'quoted'"),
        ("2024-01-01", "2024-01-01"),
    ],
)
def test_an_environment_value_is_its_text_unless_plainly_something_else(text: str, expected: object) -> None:
    assert environment_value(text) == expected


def test_an_environment_collection_that_does_not_parse_is_refused_without_its_text() -> None:
    with pytest.raises(ValueError) as caught:
        environment_value("[1, hunter2")
    assert "hunter2" not in str(caught.value)


def test_a_bad_environment_value_is_attributed_to_its_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(GOOD, {"ROLEWATCH_SOURCES__0__INTERVAL": "often"})
    assert caught.value.problems == [
        "sources[0].interval: not a duration: 'often' (use a number and a unit: 90s, 15m, 2h, 1d) "
        "(set by ROLEWATCH_SOURCES__0__INTERVAL)"
    ]


def test_aliases_are_expanded_as_usual_up_to_the_limit() -> None:
    assert load_yaml("base: &b {x: 1}\nall: [*b, *b]\n") == {"base": {"x": 1}, "all": [{"x": 1}, {"x": 1}]}
    merged = load_yaml("base: &b {delay: 0s}\nsource: {<<: *b, retries: 0}\n")
    assert merged["source"] == {"delay": "0s", "retries": 0}
    # Just under the limit: one list of n scalars, aliased often enough to add MAX_ALIAS_NODES nodes.
    n = 1000
    copies = MAX_ALIAS_NODES // (n + 1)
    text = f"a: &a [{', '.join(['x'] * n)}]\nb: [{', '.join(['*a'] * copies)}]\n"
    assert len(load_yaml(text)["b"]) == copies


def test_aliases_that_expand_past_the_limit_are_refused() -> None:
    n = 1000
    copies = MAX_ALIAS_NODES // (n + 1) + 1
    text = f"a: &a [{', '.join(['x'] * n)}]\nb: [{', '.join(['*a'] * copies)}]\n"
    with pytest.raises(ConfigError, match="aliases expand it by more than 100,000 nodes"):
        parse_config(text)
