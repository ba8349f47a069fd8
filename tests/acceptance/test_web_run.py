"""`rolewatch run --http` serves the web dashboard beside `/healthz` and `/metrics`, from the daemon."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()


def test_the_daemon_serves_the_dashboard_beside_healthz_and_metrics(tmp_path: Path) -> None:
    config = tmp_path / "rolewatch.yaml"
    config.write_text(f"database: 'sqlite:///{tmp_path / 'rolewatch.db'}'\n", encoding="utf-8")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEWATCH_")}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "rolewatch", "--config", str(config), "run", "--http", f"127.0.0.1:{port}"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        status = 0
        while status != 200:  # served at once; healthy once the database is set up and scheduling runs
            assert daemon.poll() is None, "the daemon exited"
            assert time.monotonic() < deadline, "the daemon never became healthy"
            try:
                status, _, _ = _get(f"{base}/healthz")
            except OSError:
                time.sleep(0.2)
        # Until the daemon has brought the schema up to date the dashboard answers 503, then the page.
        page_status, headers, page = _get(f"{base}/")
        while page_status == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
            page_status, headers, page = _get(f"{base}/")
        assert page_status == 200 and "<h1>Overview</h1>" in page
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert _get(f"{base}/api/events")[0] == 200
        assert _get(f"{base}/metrics")[2].startswith("# HELP")
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
