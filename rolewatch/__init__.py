"""rolewatch: watch career boards, keep every posting's history, report what opened, changed and closed."""

from __future__ import annotations

__version__ = "0.1.0"
