"""`python -m rolewatch` runs the command line."""

from __future__ import annotations

from rolewatch.cli import main

main()
