"""Producers' inputs: each source yields wire-form raw records in timestamp order.

``SOURCES`` is the registry the CLI offers; :func:`get_source` names the valid choices when
asked for one that does not exist.
"""

from __future__ import annotations

from streams.errors import ConfigError
from streams.sources.base import Source
from streams.sources.edgar_html import EdgarHtmlSource
from streams.sources.filings import Sec8kSource
from streams.sources.fomc import FomcMinutesSource, FomcPressConferenceSource, FomcStatementSource
from streams.sources.news import BbcSource, BenzingaSource, SeekingAlphaSource

SOURCES: dict[str, dict[str, type[Source]]] = {
    "news": {"benzinga": BenzingaSource, "seekingalpha": SeekingAlphaSource, "bbc": BbcSource},
    "filings": {"8k": Sec8kSource, "edgar-html": EdgarHtmlSource},
    "fomc": {
        "statements": FomcStatementSource,
        "minutes": FomcMinutesSource,
        "press": FomcPressConferenceSource,
    },
}


def get_source(family: str, name: str) -> type[Source]:
    """The source class registered as ``family``/``name``."""
    known = SOURCES.get(family, {})
    if name not in known:
        raise ConfigError(f"unknown {family} source {name!r}; choose one of {', '.join(known)}")
    return known[name]


__all__ = ["SOURCES", "Source", "get_source"]
