"""rolewatch: watch career boards, keep every posting's history, report what opened, changed and closed.

This package is the application around the four stages (`crawler`, `storage`, `notifier`,
`scheduler`), on two floors:

- below the stages, imported by all of them and importing none: `domain` (the posting, the event and
  the crawl result that cross stage boundaries), `config` (the configuration model: every setting
  and its default), `redaction` (how a URL's secrets are masked) and `logs` (log output, redacted);
- above the stages, free to use any of them: `resolve` (the configuration as the application reads
  it, checked by the stages), `cli/` (the `rolewatch` command, one module per command group),
  `output` (tables, JSON and CSV for the terminal), `example` (the file `rolewatch init` writes),
  `web/` (the dashboard, feeds and API) and `demo/` (the offline walkthrough).

`tests/unit/test_layers.py` holds the rule.
"""

from __future__ import annotations

__version__ = "0.1.0"
