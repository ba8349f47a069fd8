"""The daemon caps glibc's malloc arenas so its memory stays flat over thousands of crawls."""

from __future__ import annotations

import platform
import sys

from scheduler.memory import cap_malloc_arenas


def test_malloc_arenas_are_capped_wherever_glibc_allows_it() -> None:
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert cap_malloc_arenas() is on_glibc
