"""Cold-start benchmark: the `rolewatch` command as cron or a user runs it, a process from exec to exit.

Prints, each as the median of `--runs` runs of the installed console script (`.venv/bin/rolewatch`):
- `rolewatch --version`: the command line's own start-up (target < 0.3 s);
- `rolewatch check` of a generated file of N sources: wall time, CPU and peak RSS (target < 0.5 s);
- `rolewatch crawl` of N unchanged Greenhouse-shaped boards served on 127.0.0.1, with the cold
  worker that command starts, against the warm figure (target: cold within 2x warm).

The warm figure is the same crawl of the same unchanged boards by the same code path
(`scheduler.pipeline.crawl_and_record`) in a process that has already read the configuration,
opened the database and holds a warm crawl worker, as the daemon does: the crawl's own work,
without a process, its imports, the configuration, the database or a worker to start. Two ratios
are printed against it: the same in-process crawl with a worker started for it (the worker's own
start-up, the crawl benchmark's "cold worker"), and the whole `rolewatch crawl` process (what a
crawl from cron pays for being a fresh process).

`--vs-urlwatch` installs urlwatch (a well-known page-change monitor) from PyPI into a throwaway
venv, points it at the same N URLs, primes both tools' caches, then runs each unchanged check
alternately `--runs` times and prints rolewatch's cold crawl / urlwatch wall-time and CPU ratios
(target: no slower). CPU and peak RSS are a command's own and its children's (the crawl worker).

`--baseline DIR` also runs every command against another checkout of rolewatch (e.g. a
`git archive` of an older commit), through the same console script with DIR first on PYTHONPATH,
alternately with this one, and prints this/baseline ratios.
Run: `python benchmarks/cold_start.py [--boards 200] [--postings 250] [--runs 5] [--vs-urlwatch]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # after an installed rolewatch or a --baseline checkout on PYTHONPATH
ROLEWATCH = Path(sys.executable).with_name("rolewatch")
CITIES = ["Sydney, NSW", "San Jose, CA", "New York, NY", "London, UK", "Remote - US", "Singapore"]
TARGET_VERSION_S, TARGET_CHECK_S, TARGET_COLD_OVER_WARM = 0.3, 0.5, 2.0


@dataclass(frozen=True)
class Run:
    """One finished process: wall seconds, CPU seconds (user + system, its children included),
    peak RSS in MB (the largest of it and its children), exit status."""

    wall: float
    cpu: float
    rss_mb: float
    status: int


@dataclass(frozen=True)
class Figure:
    """The median of several runs of one command."""

    wall: float
    cpu: float
    rss_mb: float
    runs: tuple[Run, ...]


def run_process(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> Run:
    """Run `argv` to its end; its own resource usage (children it waited for included) via wait4."""
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env or os.environ), stdout=subprocess.DEVNULL, stderr=stderr
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(argv)} exited {code}: {' | '.join(tail)}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code)


def median_of(runs: Sequence[Run]) -> Figure:
    return Figure(
        statistics.median(r.wall for r in runs),
        statistics.median(r.cpu for r in runs),
        statistics.median(r.rss_mb for r in runs),
        tuple(runs),
    )


# ------------------------------------------------------------------------------------- the boards


def job(board: int, n: int) -> dict[str, Any]:
    return {
        "absolute_url": f"https://boards.example/board{board}/jobs/{board * 100000 + n}",
        "internal_job_id": board * 100000 + n,
        "location": {"name": CITIES[n % len(CITIES)]},
        "metadata": [],
        "id": board * 100000 + n,
        "updated_at": "2026-11-01T08:50:01-04:00",
        "requisition_id": f"R-{n}",
        "title": f"{'Data Scientist Intern' if n % 3 == 0 else 'Software Engineer'} {n}",
        "company_name": f"Company {board}",
        "first_published": "2026-10-16T11:55:32-04:00",
        "language": "en",
        "content": "&lt;p&gt;Experimentation, forecasting and machine learning.&lt;/p&gt;" * 8,
        "departments": [{"id": 7, "name": "Data", "parent_id": None, "child_ids": []}],
        "offices": [],
    }


def serve_boards(boards: int, postings: int, ready: Any) -> None:
    """The server process: each board's body pre-serialised with an ETag; a matching
    If-None-Match is answered 304, as real boards with validators do."""
    bodies = {}
    for board in range(boards):
        body = json.dumps({"jobs": [job(board, n) for n in range(postings)], "meta": {"total": postings}})
        encoded = body.encode()
        bodies[board] = (encoded, '"' + hashlib.blake2b(encoded, digest_size=8).hexdigest() + '"')

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].split("/")
            if len(parts) < 5 or not parts[3].startswith("board") or int(parts[3][5:]) not in bodies:
                self._answer(404, b"", None)
                return
            body, etag = bodies[int(parts[3][5:])]
            if self.headers.get("If-None-Match") == etag:
                self._answer(304, b"", etag)
            else:
                self._answer(200, body, etag)

        def _answer(self, status: int, body: bytes, etag: str | None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # socketserver's default listen backlog is 5: both tools open several connections at
        # once, and an overflowing backlog costs a SYN retry a second later (a run of either
        # took ~0.9 s longer, at random, before this).
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ready.send(server.server_address[1])
    server.serve_forever()


def board_url(port: int, board: int) -> str:
    return f"http://127.0.0.1:{port}/v1/boards/board{board}/jobs?content=true"


def rolewatch_config(port: int, boards: int, database: str) -> str:
    lines = [
        f"database: {database}",
        "defaults:",
        "  obey_robots: false",
        "  timeout: 10m",
        "  politeness: {concurrency_per_host: 8, delay: 0s, autothrottle: false, conditional_requests: true}",
        "sources:",
    ]
    lines += [
        f"  - {{name: board{i}, type: greenhouse, board: board{i}, base_url: 'http://127.0.0.1:{port}'}}"
        for i in range(boards)
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- rolewatch


@dataclass(frozen=True)
class Checkout:
    """A rolewatch to run: this one, or another checkout first on PYTHONPATH."""

    label: str
    pythonpath: Path | None = None

    def env(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("ROLEWATCH_")}
        if self.pythonpath is not None:
            environment["PYTHONPATH"] = str(self.pythonpath)
        return environment

    def run(self, workdir: Path, *args: str) -> Run:
        return run_process([str(ROLEWATCH), *args], workdir, self.env())

    def in_process(self, workdir: Path, config_path: Path, runs: int) -> tuple[Figure, Figure]:
        """`in_process_crawls` with this checkout's code, in a process of its own."""
        argv = [sys.executable, __file__, "--in-process", str(config_path), "--runs", str(runs)]
        done = subprocess.run(argv, cwd=workdir, env=self.env(), capture_output=True, text=True, check=True)
        measured = json.loads(done.stdout.splitlines()[-1])
        warm, cold = ([Run(wall, cpu, 0.0, 0) for wall, cpu in measured[key]] for key in ("warm", "cold"))
        return median_of(warm), median_of(cold)


def in_process_crawls(config_path: Path, runs: int) -> tuple[Figure, Figure]:
    """The crawl's own work, with the configuration read and the database open beforehand: with a
    warm worker (the warm figure, as the daemon crawls), and with a worker started for each crawl
    (as `rolewatch crawl` does; the crawl benchmark's "cold worker"), taking turns."""
    from crawler.workers import CrawlWorkers
    from rolewatch.resolve import load_config
    from scheduler.pipeline import crawl_and_record
    from storage.database import make_engine

    config = load_config(config_path, environ={})
    engine = make_engine(config.database)
    workers = CrawlWorkers()
    workers.prestart()
    sources = config.resolved_sources()

    def crawl(pool: CrawlWorkers | None) -> Run:
        start_cpu, start = time.process_time(), time.perf_counter()
        records = crawl_and_record(engine, config, sources, workers=pool)
        wall = time.perf_counter() - start
        assert all(r.verdict.value == "complete" for r in records), [r.note for r in records][:3]
        assert not any(r.events for r in records), "the boards changed between crawls"
        return Run(wall, time.process_time() - start_cpu, 0.0, 0)

    try:
        crawl(workers)  # the worker's first batch
        measured = alternate({"warm": partial(crawl, workers), "cold worker": partial(crawl, None)}, runs)
    finally:
        workers.close()
        engine.dispose()
    return measured["warm"], measured["cold worker"]


# ------------------------------------------------------------------------------------- urlwatch


def install_urlwatch(directory: Path) -> Path:
    """urlwatch from PyPI in a venv of its own; its executable."""
    venv.EnvBuilder(with_pip=True).create(directory)
    pip = [str(directory / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "urlwatch"]
    done = subprocess.run(pip, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip install urlwatch failed: {done.stderr.strip()[-2000:]}")
    return directory / "bin" / "urlwatch"


def urlwatch_command(executable: Path, workdir: Path, urls: Sequence[str]) -> list[str]:
    """urlwatch on `urls` with its files in `workdir` (a `url` job per board, as a user adds them)."""
    jobs = workdir / "urls.yaml"
    if not jobs.exists():
        jobs.write_text("\n---\n".join(f"name: board{i}\nurl: {url}" for i, url in enumerate(urls)) + "\n")
    return [
        str(executable),
        "--urls",
        str(jobs),
        "--config",
        str(workdir / "urlwatch.yaml"),
        "--hooks",
        str(workdir / "hooks.py"),
        "--cache",
        str(workdir / "cache.db"),
    ]


# ------------------------------------------------------------------------------------- the report


def alternate(commands: Mapping[str, Callable[[], Run]], runs: int) -> dict[str, Figure]:
    """Each command `runs` times, taking turns, so a busy moment on a shared machine hits all alike."""
    measured: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            measured[name].append(command())
    return {name: median_of(found) for name, found in measured.items()}


def line(label: str, figure: Figure, target: str = "") -> None:
    walls = ", ".join(f"{r.wall:.2f}" for r in figure.runs)
    rss = f", peak RSS {figure.rss_mb:.0f} MB" if figure.rss_mb else ""
    print(
        f"  {label}: {figure.wall:.3f} s wall, {figure.cpu:.3f} s CPU{rss} (runs: {walls}){target}",
        flush=True,
    )


#: The packages of a rolewatch checkout (pyproject.toml's `packages.find`).
PACKAGES = ("rolewatch", "crawler", "storage", "scheduler", "notifier")


def compile_modules(root: Path) -> None:
    """Compile a checkout's modules to bytecode, as `pip install` leaves an installed rolewatch.

    A source checkout run with PYTHONDONTWRITEBYTECODE set (this machine sets it, as does our
    container image, whose build compiles the installed package) compiles every module of ours
    from source in each new process: about a fifth of a cold `rolewatch crawl` here, which no
    installed rolewatch pays.
    """
    import compileall

    for package in PACKAGES:
        compileall.compile_dir(root / package, quiet=1)


def report(
    boards: int = 200,
    vs_urlwatch: bool = False,
    *,
    postings: int = 250,
    runs: int = 5,
    baseline: Path | None = None,
) -> dict[str, float]:
    """Measure and print every figure of the module docstring; return them by name."""
    checkouts = [Checkout("this")] + ([Checkout("baseline", baseline)] if baseline else [])
    for root in (ROOT, *([baseline] if baseline else [])):
        compile_modules(root)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rolewatch-cold-") as directory:
        workdir = Path(directory)
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.get_context("spawn").Process(
            target=serve_boards, args=(boards, postings, child), daemon=True
        )
        server.start()
        port = parent.recv()
        try:
            figures = _measure(workdir, port, boards, postings, runs, checkouts, vs_urlwatch)
        finally:
            server.kill()
            server.join(5)
    return figures


def _measure(
    workdir: Path,
    port: int,
    boards: int,
    postings: int,
    runs: int,
    checkouts: Sequence[Checkout],
    vs_urlwatch: bool,
) -> dict[str, float]:
    this = checkouts[0]
    config_path = workdir / "rolewatch.yaml"
    config_path.write_text(rolewatch_config(port, boards, f"sqlite:///{workdir}/rolewatch.db"))
    print(f"\n{boards} sources, {boards} Greenhouse-shaped boards x {postings} postings on 127.0.0.1:{port}")
    print(f"  console script: {ROLEWATCH}; runs per figure: {runs} (median), commands taking turns")

    start = time.perf_counter()
    this.run(workdir, "crawl")  # the first crawl: every posting new
    print(f"  first crawl (ingest, not a target): {time.perf_counter() - start:.1f} s", flush=True)

    versions = alternate({c.label: partial(c.run, workdir, "--version") for c in checkouts}, runs)
    checks = alternate({c.label: partial(c.run, workdir, "check") for c in checkouts}, runs)
    colds = alternate({c.label: partial(c.run, workdir, "crawl") for c in checkouts}, runs)
    in_process = {c.label: c.in_process(workdir, config_path, runs) for c in checkouts}

    figures: dict[str, float] = {}
    target = f"[target <= {TARGET_COLD_OVER_WARM:.0f}x]"
    for checkout in checkouts:
        suffix = "" if checkout is this else f"_{checkout.label}"
        label, (warm, cold_worker) = checkout.label, in_process[checkout.label]
        print(f"\n{label} ({checkout.pythonpath or 'this checkout'})")
        line("rolewatch --version", versions[label], f"  [target < {TARGET_VERSION_S} s]")
        line(f"rolewatch check, {boards} sources", checks[label], f"  [target < {TARGET_CHECK_S} s]")
        line(f"rolewatch crawl, {boards} unchanged boards (the whole process)", colds[label])
        print("  in process, configuration read and database open beforehand (that process's CPU):")
        line("  warm crawl (a warm worker, as the daemon crawls): the warm figure", warm)
        line("  the same crawl with a worker started for it (cold worker)", cold_worker)
        print(f"  cold worker / warm: {cold_worker.wall / warm.wall:.2f}x  {target}")
        print(f"  rolewatch crawl (process) / warm: {colds[label].wall / warm.wall:.2f}x  {target}")
        figures |= {
            f"version_s{suffix}": versions[label].wall,
            f"check_s{suffix}": checks[label].wall,
            f"check_cpu_s{suffix}": checks[label].cpu,
            f"check_rss_mb{suffix}": checks[label].rss_mb,
            f"cold_crawl_s{suffix}": colds[label].wall,
            f"cold_crawl_cpu_s{suffix}": colds[label].cpu,
            f"warm_crawl_s{suffix}": warm.wall,
            f"cold_worker_crawl_s{suffix}": cold_worker.wall,
            f"cold_worker_over_warm{suffix}": cold_worker.wall / warm.wall,
            f"cold_over_warm{suffix}": colds[label].wall / warm.wall,
        }
    if len(checkouts) > 1:
        print("\nthis / baseline (wall):")
        for key in ("version_s", "check_s", "cold_crawl_s", "cold_worker_crawl_s", "warm_crawl_s"):
            print(f"  {key}: {figures[key] / figures[key + '_baseline']:.2f}x")
            figures[f"{key}_vs_baseline"] = figures[key] / figures[key + "_baseline"]
        print(
            f"  check CPU: {figures['check_cpu_s'] / figures['check_cpu_s_baseline']:.2f}x, "
            f"peak RSS: {figures['check_rss_mb'] / figures['check_rss_mb_baseline']:.2f}x"
        )
    if vs_urlwatch:
        figures |= _versus_urlwatch(workdir, port, boards, runs, this)
    return figures


def _versus_urlwatch(workdir: Path, port: int, boards: int, runs: int, this: Checkout) -> dict[str, float]:
    print("\nurlwatch (installed from PyPI into a throwaway venv)", flush=True)
    executable = install_urlwatch(workdir / "urlwatch-venv")
    version = subprocess.run([str(executable), "--version"], capture_output=True, text=True).stdout.strip()
    home = workdir / "urlwatch"
    home.mkdir()
    command = urlwatch_command(executable, home, [board_url(port, i) for i in range(boards)])
    environment = {**os.environ, "HOME": str(home)}
    run_process(command, home, environment)  # first run: every page new, ETags cached
    measured = alternate(
        {
            "rolewatch": lambda: this.run(workdir, "crawl"),
            "urlwatch": lambda: run_process(command, home, environment),
        },
        runs,
    )
    line(f"rolewatch crawl, {boards} unchanged boards, cold", measured["rolewatch"])
    line(f"{version}, the same {boards} URLs, unchanged", measured["urlwatch"])
    wall = measured["rolewatch"].wall / measured["urlwatch"].wall
    cpu = measured["rolewatch"].cpu / measured["urlwatch"].cpu
    print(f"  rolewatch / urlwatch: {wall:.2f}x wall, {cpu:.2f}x CPU  [target: wall <= 1x]")
    return {"vs_urlwatch_wall": wall, "vs_urlwatch_cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--boards", type=int, default=200, help="sources in the file and boards served")
    parser.add_argument("--postings", type=int, default=250, help="postings per board")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (the median is printed)")
    parser.add_argument(
        "--vs-urlwatch", action="store_true", help="also run urlwatch (installs it from PyPI)"
    )
    parser.add_argument("--baseline", type=Path, help="another rolewatch checkout to measure alongside")
    parser.add_argument("--in-process", type=Path, metavar="CONFIG", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON, last")
    args = parser.parse_args()
    if args.in_process:  # one checkout's in-process crawls, for report(): JSON on the last line
        warm, cold = in_process_crawls(args.in_process, args.runs)
        runs = {"warm": [(r.wall, r.cpu) for r in warm.runs], "cold": [(r.wall, r.cpu) for r in cold.runs]}
        print(json.dumps(runs))
        return
    figures = report(
        args.boards, args.vs_urlwatch, postings=args.postings, runs=args.runs, baseline=args.baseline
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
