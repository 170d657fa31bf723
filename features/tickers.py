"""Ticker linking: cashtags, exchange-suffixed codes, a record's own ticker field, CIK → ticker.

The SEC ticker list (``reference/company_tickers_exchange.json``) is the universe of known
symbols; a cashtag that is not in it (``$5``, ``$TSLAQ``) is not a link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# "$AAPL", "$BRK.B": a dollar sign glued to 1-5 capitals, optionally a class suffix.
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Z]{1,5}(?:[.-][A-Z])?)\b")
# The SEC ticker list, relative to FINSENT_DATA.
SEC_TICKER_FILE = "reference/company_tickers_exchange.json"
# Reuters instrument codes as written in wire copy: "<JNJ.N>", "<AAPL.O>".
_RIC = re.compile(r"<([A-Z]{1,5})\.[A-Z]{1,2}>")
# Any instrument code in angle brackets ("<.SPX>", "<LCOc1>", "<AAPL.O>"): not prose.
INSTRUMENT_CODE = re.compile(r"<[A-Za-z0-9.=^_-]{1,20}>")
# A ticker as a source field may carry: letters, digits, one class separator.
_TICKER_FIELD = re.compile(r"^[A-Z][A-Z0-9]{0,5}(?:[.-][A-Z0-9]{1,2})?$")


@dataclass(frozen=True)
class Company:
    """One row of the SEC list."""

    cik: str
    ticker: str
    name: str
    exchange: str


class TickerIndex:
    """Lookups over the SEC ticker list."""

    def __init__(self, companies: Iterable[Company]) -> None:
        self._by_ticker: dict[str, Company] = {}
        self._by_cik: dict[str, Company] = {}
        for company in companies:
            self._by_ticker.setdefault(company.ticker, company)
            # The SEC list puts a company's primary listing first.
            self._by_cik.setdefault(company.cik, company)

    @classmethod
    def from_sec_file(cls, path: Path) -> TickerIndex:
        """Load ``company_tickers_exchange.json`` (fields cik, name, ticker, exchange)."""
        payload = json.loads(path.read_text(encoding="utf-8"))
        fields = payload["fields"]
        rows = (dict(zip(fields, row, strict=True)) for row in payload["data"])
        return cls(
            Company(
                cik=str(row["cik"]),
                ticker=normalize_ticker(str(row["ticker"])),
                name=str(row["name"]),
                exchange=str(row["exchange"] or ""),
            )
            for row in rows
            if row["ticker"]
        )

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> TickerIndex:
        """Load the SEC list from its place in the data folder."""
        return cls.from_sec_file(data_dir / SEC_TICKER_FILE)

    def __len__(self) -> int:
        return len(self._by_ticker)

    def __contains__(self, ticker: str) -> bool:
        return normalize_ticker(ticker) in self._by_ticker

    def companies(self) -> list[Company]:
        """Each listed company once (its primary listing), in the list's order (market value)."""
        return list(self._by_cik.values())

    def company(self, ticker: str) -> Company | None:
        """The listed company for ``ticker``, if the SEC list knows it."""
        return self._by_ticker.get(normalize_ticker(ticker))

    def ticker_for_cik(self, cik: str | int) -> str | None:
        """The primary ticker of a CIK (leading zeros ignored), if it is still listed."""
        company = self._by_cik.get(str(int(cik))) if str(cik).strip().isdigit() else None
        return company.ticker if company else None


def normalize_ticker(ticker: str) -> str:
    """Upper-case and use ``-`` as the class separator, as the SEC list does (BRK.B → BRK-B)."""
    return ticker.strip().upper().replace(".", "-")


def is_ticker_like(value: str) -> bool:
    """True when ``value`` has the shape of a ticker symbol."""
    return bool(_TICKER_FIELD.match(value.strip().upper()))


def cashtag_tickers(text: str) -> list[str]:
    """Tickers written as cashtags or instrument codes in ``text`` (shape only, unchecked)."""
    return [normalize_ticker(m.group(1)) for p in (_CASHTAG, _RIC) for m in p.finditer(text)]


def link_tickers(
    text: str,
    index: TickerIndex,
    *,
    given: Iterable[str] = (),
    cik: str | None = None,
) -> list[str]:
    """Tickers a record is about, in order of first evidence, without repeats.

    ``given`` are the record's own ticker fields (kept even when the SEC list no longer has
    them: delisted names are still the subject); ``cik`` adds the filer's current ticker;
    cashtags and instrument codes in ``text`` count only when the SEC list knows them.
    """
    found: dict[str, None] = {}
    for ticker in given:
        if ticker and is_ticker_like(ticker):
            found.setdefault(normalize_ticker(ticker))
    if cik:
        ticker = index.ticker_for_cik(cik)
        if ticker:
            found.setdefault(ticker)
    for pattern in (_CASHTAG, _RIC):
        for match in pattern.finditer(text):
            ticker = normalize_ticker(match.group(1))
            if ticker in index:
                found.setdefault(ticker)
    return list(found)
