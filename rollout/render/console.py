"""The rich console for tables: a terminal's width in a terminal; never cut when piped
(`| less`, `> file`, CI logs) or with `--format wide`, like kubectl's `-o wide`."""

from __future__ import annotations

import sys

UNLIMITED = 1_000_000  # columns: rich then sizes every column to its content


def console(wide: bool = False):
    from rich.console import Console

    if wide or not sys.stdout.isatty():
        return Console(width=UNLIMITED, soft_wrap=True)
    return Console()
