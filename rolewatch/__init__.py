"""rolewatch: watch career boards, keep every posting's history, alert on new, changed, closed and reopened roles."""

from __future__ import annotations

__version__ = "0.1.0"
