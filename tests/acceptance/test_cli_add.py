"""`rolewatch add URL` as a user runs it: the source written to the file (comments kept), a dry run, and
discovery on real pages served from 127.0.0.1.

Discovered boards point at real ATS hosts, so those cases run with `--no-test` and check only the
source written; nothing here crawls a host other than the loopback board server.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.acceptance.command_line import rolewatch
from tests.boardserver import BoardServer

CONFIG = """\
# my rolewatch configuration — keep this comment
database: sqlite:///{db}
defaults:
  politeness: {{delay: 0s, autothrottle: false, retries: 0, request_timeout: 5s}}  # fast for tests

sources:
  # the first board
  - name: stripe
    type: greenhouse
    board: stripe   # inline comment

# subscriptions come later
subscriptions: []
"""

HTML = {"Content-Type": "text/html; charset=utf-8"}


def write_config(directory: Path) -> Path:
    path = directory / "rolewatch.yaml"
    path.write_text(CONFIG.format(db=directory / "rolewatch.db"), encoding="utf-8")
    return path


def sources_of(path: Path) -> list[dict[str, object]]:
    sources: list[dict[str, object]] = yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]
    return sources


def test_a_board_address_is_appended_with_the_comments_kept(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    done = rolewatch(tmp_path, "add", "https://boards.greenhouse.io/stripe/jobs/123", "--no-test")
    assert done.returncode == 0, done.stderr
    assert "greenhouse source 'stripe-2'" in done.stdout
    text = path.read_text(encoding="utf-8")
    original = CONFIG.format(db=tmp_path / "rolewatch.db")
    for line in original.splitlines():
        assert line in text  # every line and comment as it was
    assert text.index("name: stripe-2") < text.index("# subscriptions come later")
    assert sources_of(path)[-1] == {"name": "stripe-2", "type": "greenhouse", "board": "stripe"}
    done = rolewatch(
        tmp_path, "add", "https://jobs.eu.lever.co/idealist", "--name", "idealist-eu", "--no-test"
    )
    assert done.returncode == 0, done.stderr
    assert sources_of(path)[-1] == {
        "name": "idealist-eu", "type": "lever", "site": "idealist", "base_url": "https://api.eu.lever.co",
    }  # fmt: skip
    assert rolewatch(tmp_path, "check").returncode == 0


def test_dry_run_prints_the_source_and_writes_nothing(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    before = path.read_bytes()
    url = "https://lifeattiktok.com/search?keyword=data&recruitment_id_list=2&location_code_list=CT_94"
    done = rolewatch(tmp_path, "add", url, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout) == [
        {"name": "tiktok", "type": "tiktok", "keyword": "data", "recruitment": ["intern", "new-grad"],
         "locations": ["CT_94"]},
    ]  # fmt: skip
    assert path.read_bytes() == before


def test_a_taken_name_is_a_usage_error(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    before = path.read_bytes()
    done = rolewatch(tmp_path, "add", "https://jobs.lever.co/acme", "--name", "stripe", "--no-test")
    assert done.returncode == 2 and "stripe" in done.stderr
    assert path.read_bytes() == before


def test_a_page_embedding_a_greenhouse_board(tmp_path: Path, board_server: BoardServer) -> None:
    path = write_config(tmp_path)
    board_server.set_raw(
        "/careers",
        b'<html><body><h1>Join us</h1><div id="grnhse_app"></div>'
        b'<iframe src="https://boards.greenhouse.io/embed/job_board?for=numbat"></iframe></body></html>',
        headers=HTML,
    )
    done = rolewatch(tmp_path, "add", f"{board_server.url}/careers", "--no-test")
    assert done.returncode == 0, done.stderr
    assert "embedded" in done.stdout
    assert sources_of(path)[-1] == {"name": "numbat", "type": "greenhouse", "board": "numbat"}


def test_a_page_with_jobposting_markup(tmp_path: Path, board_server: BoardServer) -> None:
    path = write_config(tmp_path)
    board_server.set_raw(
        "/jobs/analyst",
        b'<html><head><script type="application/ld+json">{"@context": "https://schema.org", '
        b'"@type": "JobPosting", "title": "Analyst"}</script></head><body></body></html>',
        headers=HTML,
    )
    url = f"{board_server.url}/jobs/analyst"
    done = rolewatch(tmp_path, "add", url, "--name", "numbat-jobs", "--no-test")
    assert done.returncode == 0, done.stderr
    assert sources_of(path)[-1] == {"name": "numbat-jobs", "type": "jsonld", "start_urls": [url]}


def test_a_page_with_a_feed_link_is_added_and_tested(tmp_path: Path, board_server: BoardServer) -> None:
    path = write_config(tmp_path)
    board_server.set_raw(
        "/",
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/jobs.rss"></head></html>',
        headers=HTML,
    )
    board_server.set_raw(
        "/jobs.rss",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Jobs</title>'
        b"<item><title>Data Analyst</title><link>https://numbat.example/jobs/1</link><guid>1</guid>"
        b"<description>Sydney</description></item></channel></rss>",
        headers={"Content-Type": "application/rss+xml"},
    )
    done = rolewatch(tmp_path, "add", f"{board_server.url}/", "--name", "numbat-feed")
    assert done.returncode == 0, done.stderr
    assert sources_of(path)[-1] == {
        "name": "numbat-feed",
        "type": "feed",
        "url": f"{board_server.url}/jobs.rss",
    }
    assert "Data" in done.stdout and "verdict: complete" in done.stdout


def test_a_page_with_nothing_says_so(tmp_path: Path, board_server: BoardServer) -> None:
    path = write_config(tmp_path)
    before = path.read_bytes()
    board_server.set_raw("/about", b"<html><body><p>We are hiring soon.</p></body></html>", headers=HTML)
    done = rolewatch(tmp_path, "add", f"{board_server.url}/about", "--no-test")
    assert done.returncode == 1
    assert "no board found" in done.stderr and "Traceback" not in done.stderr
    assert path.read_bytes() == before
