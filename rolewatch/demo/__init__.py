"""`rolewatch demo`: a walkthrough with no network: sample boards on 127.0.0.1, the real daemon, its alerts.

The boards in `rolewatch/samples` (invented companies, in each board's real shape) are served by a
loopback HTTP server; `scheduler.daemon.Daemon` crawls them on a short interval into a private
SQLite database while `samples/scenario.json` changes them between rounds. Every event the
daemon records is printed as it arrives, with the alert the demo subscription receives for it;
with `--notify` the daemon's own outbox sender delivers those alerts to a real channel as well.

`scenario` is what the boards hold round by round, `server` serves them, `walkthrough` plays the
rounds beside the daemon, `printing` is all the demo says, `run` puts them together for `command`.
"""

from __future__ import annotations

from rolewatch.demo.command import demo

__all__ = ["demo"]
