"""Option parsing shared by several subcommands."""

from __future__ import annotations

from datetime import datetime

import click

from streams.records import parse_time


def iso_time(_: click.Context, __: click.Parameter, value: str | None) -> datetime | None:
    """Click callback: an ISO 8601 option value as an aware UTC datetime (None stays None)."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from None
