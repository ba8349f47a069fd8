"""`rolewatch demo` as a new user runs it: a fresh process in an empty directory, no network, exit 0.

The demo serves its own sample boards on 127.0.0.1 and runs the real daemon against them, so
these tests need nothing but the package; the second one also receives the alerts on a webhook.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.receivers import Webhook

#: `rolewatch demo` in a process of its own: the whole demo, 15-30 s on a busy machine.
pytestmark = pytest.mark.slow

#: Generous: the demo takes 15-30 s on a busy two-core machine and checks its own rounds.
DEMO_TIMEOUT_S = 150
ALERT = re.compile(r"^      alert to interns: (.+)$", re.MULTILINE)


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m rolewatch demo ARGS` in `cwd`, with no rolewatch settings and no proxies set."""
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ROLEWATCH_") and name.lower() not in proxies
    }
    return subprocess.run(
        [sys.executable, "-m", "rolewatch", "demo", *args],
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
    )


def test_the_demo_shows_every_kind_of_event_and_its_alerts_and_leaves_nothing_behind(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--rounds", "3", "--interval", "1s")
    output = done.stdout
    assert done.returncode == 0, f"exit {done.returncode}\n{output}\n{done.stderr}"
    for kind in ("NEW", "CHANGED", "CLOSED", "REOPENED"):
        assert re.search(rf"^  {kind} +\S+ +\S", output, re.MULTILINE), f"no {kind} event:\n{output}"
    titles = ALERT.findall(output)
    assert any(title.startswith("New: ") for title in titles), output
    assert any(title.startswith("Closed: Graduate Software Engineer") for title in titles), output
    assert any(title.startswith("Reopened: Graduate Software Engineer") for title in titles), output
    assert "title: Data Science Intern → Data Science Intern, Summer 2027" in output
    assert "salary: USD 45–52/hr → USD 48–55/hr" in output
    assert "no alert: not a role interns asked for" in output  # the subscription filters
    assert "Round 3 of 3: the graduate role is back" in output
    assert "Next steps" in output and "rolewatch init" in output

    assert list(tmp_path.iterdir()) == [], "the demo wrote into the working directory"
    database = re.search(r"^  database +(\S+rolewatch\.db)", output, re.MULTILINE)
    assert database is not None, output
    assert not Path(database.group(1)).parent.exists(), "the demo's temporary directory is still there"


def test_with_notify_the_outbox_delivers_each_alert_to_the_channel(tmp_path: Path, webhook: Webhook) -> None:
    kept = tmp_path / "kept"
    done = run_demo(
        tmp_path, "--rounds", "2", "--interval", "1s", "--notify", webhook.url, "--keep", str(kept)
    )
    output = done.stdout
    assert done.returncode == 0, f"exit {done.returncode}\n{output}\n{done.stderr}"
    titles = ALERT.findall(output)
    assert len(titles) >= 8, output  # the first round's internships and graduate roles, then round 2's
    received = webhook.wait_for(len(titles), timeout=10)
    assert sorted(request.json["title"] for request in received) == sorted(titles)
    assert len(webhook.requests) == len(titles), "an alert was delivered twice"
    assert f"alerts to    json://127.0.0.1:{webhook.port}/" in output
    sent = rf"^  outbox: sent \d+ alerts? to json://127\.0\.0\.1:{webhook.port}/hooks/rolewatch$"
    assert re.search(sent, output, re.MULTILINE), output
    assert f"{len(titles)} sent to your channel" in output
    # The kept configuration keeps the channel too (readable by its owner only: a URL may hold a secret).
    assert webhook.url in (kept / "rolewatch.yaml").read_text(encoding="utf-8")
    assert (kept / "rolewatch.yaml").stat().st_mode & 0o077 == 0
