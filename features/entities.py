"""Company names as written in news ("Apple", "Johnson & Johnson", "J.P. Morgan") → tickers.

Names come from the SEC ticker list (its order is by market value) and the S&P 500 list,
normalised: case, "&" → "and", legal suffixes (Inc, Corp, plc, Holdings …) and punctuation
dropped, so "JPMORGAN CHASE & CO" is ``jpmorgan chase`` and also matches "JPMorgan Chase &
Co." or "J.P. Morgan Chase". Large companies are also known by their first word ("Goldman",
"Exxon"), and a few news names by a short curated list ("Google", "BofA").

A name that is also a common English word ("Target", "Visa", "Shell", "Apple" by word
frequency, from ``wordfreq``) is only a mention when the text shows it is the company: it is
capitalised, not the first word of a sentence or a headline in Title Case, unless a cue
follows ("Target Corp", "Visa's", "Shell shares") or the company is named unambiguously
elsewhere in the same text.
"""

from __future__ import annotations

import csv
import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from features.tickers import INSTRUMENT_CODE, TickerIndex, cashtag_tickers, normalize_ticker

log = logging.getLogger(__name__)

SP500_FILE = "reference/sp500_constituents.csv"
# Trailing words that say what kind of legal entity, not which company.
LEGAL_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "corp", "corporation", "co", "company", "companies", "cos", "ltd",
        "limited", "plc", "llc", "lp", "l", "p", "sa", "ag", "nv", "n", "v", "se", "spa", "s", "a",
        "ab", "asa", "oyj", "holdings", "holding", "group", "the", "trust", "adr", "ads", "com",
        "de", "del", "class", "b", "c", "new",
    }
)  # fmt: skip
# News names the filings lists do not give (the company's usual name in the press).
CURATED_ALIASES: dict[str, str] = {
    "Google": "GOOGL", "Facebook": "META", "Instagram": "META", "BofA": "BAC",
    "Bank of America": "BAC", "Citi": "C", "J&J": "JNJ", "JPMorgan": "JPM", "J.P. Morgan": "JPM",
    "AMD": "AMD", "P&G": "PG", "Procter & Gamble": "PG", "Disney": "DIS", "Exxon": "XOM",
    "ExxonMobil": "XOM", "Ford": "F", "Coke": "KO", "HP": "HPQ", "IBM": "IBM", "GE": "GE",
    "AT&T": "T", "Berkshire": "BRK-B", "Alibaba": "BABA", "Shell": "SHEL", "Merck": "MRK",
    "3M": "MMM",
}  # fmt: skip
# Companies (by market-value rank) whose first word alone also names them.
FIRST_WORD_RANK = 1500
# Companies this large (or in the S&P 500) are what a bare common-word name usually means.
MAJOR_RANK = 250
# Word frequency (Zipf scale) from which a one-word name is a common word too.
COMMON_ZIPF = 4.0
# Words right after a name that say it is the company.
_CUES_AFTER = frozenset(
    {
        "inc", "corp", "corporation", "co", "com", "plc", "ltd", "llc", "s", "shares", "share",
        "stock", "stocks", "said", "says", "reported", "posted", "beat", "missed", "ceo",
        "chief", "executive", "spokesperson", "spokesman", "spokeswoman",
    }
)  # fmt: skip
_CUES_BEFORE = frozenset({"shares", "of", "at", "rival", "retailer", "maker", "giant", "firm"})

_TOKEN = re.compile(r"[A-Za-z0-9]+|&")


@dataclass(frozen=True)
class Mention:
    """One place a company is named: ``text[start:end]``."""

    ticker: str
    start: int
    end: int
    surface: str


@dataclass(frozen=True)
class EntityLink:
    """A company a text is about, with its mentions and how central it is (0..1)."""

    ticker: str
    mentions: tuple[Mention, ...]
    relevance: float


def normalize_name(name: str) -> list[str]:
    """Tokens of a company name without case, punctuation and legal suffixes."""
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"(?<=\b[A-Za-z])\.(?=[A-Za-z]\b)", "", text)  # "J.P." -> "JP"
    tokens = [t.lower() if t != "&" else "and" for t in _TOKEN.findall(text)]
    while tokens and (tokens[-1] in LEGAL_SUFFIXES or tokens[-1] == "and"):
        tokens.pop()
    while tokens and tokens[0] == "the":
        tokens.pop(0)
    return tokens


def _key(tokens: Iterable[str]) -> str:
    return "".join(tokens)


@lru_cache(maxsize=50_000)
def _is_common_word(word: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") >= COMMON_ZIPF


class EntityLinker:
    """Finds company names in text and links them to tickers."""

    MAX_TOKENS = 6

    def __init__(self, aliases: dict[str, str], major: Iterable[str] = ()) -> None:
        """``aliases``: compact normalised name (``jpmorganchase``) → ticker; ``major``: the
        tickers a bare common-word name may mean without a cue."""
        self.aliases = aliases
        self.major = frozenset(major)

    @classmethod
    def from_data_dir(cls, data_dir: Path, index: TickerIndex | None = None) -> EntityLinker:
        """Names from the SEC list, the S&P 500 list and the curated news names."""
        index = index or TickerIndex.from_data_dir(data_dir)
        aliases: dict[str, str] = {}
        first_words: dict[str, str] = {}
        major: set[str] = set(CURATED_ALIASES.values())
        for rank, company in enumerate(index.companies()):
            tokens = normalize_name(company.name)
            if not tokens:
                continue
            aliases.setdefault(_key(tokens), company.ticker)
            if rank < MAJOR_RANK:
                major.add(company.ticker)
            if (
                rank < FIRST_WORD_RANK
                and len(tokens) > 1
                and len(tokens[0]) >= 4
                and not _is_common_word(tokens[0])
            ):
                first_words.setdefault(tokens[0], company.ticker)
        sp500 = data_dir / SP500_FILE
        if sp500.is_file():
            with sp500.open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    name = re.sub(r"\s*\(.*?\)\s*", " ", row["Security"])
                    ticker = normalize_ticker(row["Symbol"])
                    major.add(ticker)
                    if tokens := normalize_name(name):
                        aliases.setdefault(_key(tokens), ticker)
        for word, ticker in first_words.items():
            aliases.setdefault(word, ticker)
        for name, ticker in CURATED_ALIASES.items():
            aliases[_key(normalize_name(name))] = ticker
        return cls(aliases, major)

    def mentions(self, text: str, *, confirmed: Iterable[str] = ()) -> list[Mention]:
        """Company mentions in ``text``, longest name first, without overlaps.

        ``confirmed``: tickers known from elsewhere (the record's own, a cashtag), which let
        an ambiguous name count anywhere.
        """
        confirmed = set(confirmed) | set(cashtag_tickers(text))
        # Instrument codes ("<AAPL.O>") confirm a ticker but are not names themselves.
        masked = INSTRUMENT_CODE.sub(lambda m: " " * len(m.group()), _dotless(text))
        tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(masked)]
        found: list[tuple[Mention, bool]] = []
        i = 0
        while i < len(tokens):
            match = self._longest(tokens, i)
            if match is None:
                i += 1
                continue
            n, ticker = match
            start, end = tokens[i][0], tokens[i + n - 1][1]
            found.append((Mention(ticker, start, end, text[start:end]), i, n))
            i += n
        sure = {m.ticker for m, i, n in found if n > 1 or not self._doubtful(tokens, i)}
        sure |= confirmed
        return [
            m
            for m, i, n in found
            if m.ticker in confirmed
            or (n > 1 and not _inside_proper_name(tokens, i, n))
            or (m.ticker in sure and not _inside_proper_name(tokens, i, n))
            or (n == 1 and _reads_as_company(text, tokens, i, m.ticker in self.major))
        ]

    def _doubtful(self, tokens: list[tuple[int, int, str]], i: int) -> bool:
        """A one-word name that is also a common word, or sits inside a longer proper name."""
        return _is_common_word(tokens[i][2].lower()) or _inside_proper_name(tokens, i, 1)

    def _longest(self, tokens: list[tuple[int, int, str]], i: int) -> tuple[int, str] | None:
        first = tokens[i][2]
        if not (first[0].isupper() or first[0].isdigit()) or first == "&":
            return None
        for n in range(min(self.MAX_TOKENS, len(tokens) - i), 0, -1):
            last = tokens[i + n - 1][2]
            if not (last[0].isupper() or last[0].isdigit()):
                continue
            words = [t[2] for t in tokens[i : i + n]]
            if _key(normalize_name(" ".join(words))) != _key(
                w.lower() if w != "&" else "and" for w in words
            ):
                continue  # the span ends in a legal suffix: the shorter span will match
            ticker = self.aliases.get(_key(w.lower() if w != "&" else "and" for w in words))
            if ticker and len(_key(words)) >= 2:
                return n, ticker
        return None

    def link(
        self, title: str, body: str = "", *, confirmed: Iterable[str] = ()
    ) -> list[EntityLink]:
        """Companies in a title and body, most relevant first.

        Relevance: 0.4 if named in the title, up to 0.3 for how early the first mention is,
        up to 0.3 for how often it is named (5 mentions or more count fully).
        """
        text = f"{title}\n{body}" if body else title
        confirmed = tuple(confirmed)
        mentions = self.mentions(text, confirmed=confirmed)
        by_ticker: dict[str, list[Mention]] = {}
        for mention in mentions:
            by_ticker.setdefault(mention.ticker, []).append(mention)
        length = max(1, len(text))
        links = []
        for ticker, group in by_ticker.items():
            in_title = any(m.start < len(title) for m in group) if body else True
            early = 1 - group[0].start / length
            relevance = 0.4 * in_title + 0.3 * early + 0.3 * min(len(group), 5) / 5
            links.append(EntityLink(ticker, tuple(group), round(relevance, 4)))
        return sorted(links, key=lambda link: -link.relevance)


def _dotless(text: str) -> str:
    """``text`` with the dots of initials blanked ("J.P." → "J P "), same length."""
    return re.sub(r"(?<=\b[A-Za-z])\.(?=[A-Za-z]\b)", " ", text)


def _inside_proper_name(tokens: list[tuple[int, int, str]], i: int, n: int) -> bool:
    """The match is glued to another capitalised word ("Jesse Cohen", "King Charles")."""
    before = tokens[i - 1][2] if i > 0 else ""
    after = tokens[i + n][2] if i + n < len(tokens) else ""
    glued_before = before[:1].isupper() and tokens[i][0] - tokens[i - 1][1] <= 1
    glued_after = (
        after[:1].isupper()
        and after.lower() not in _CUES_AFTER
        and after.lower() not in LEGAL_SUFFIXES
        and tokens[i + n][0] - tokens[i + n - 1][1] <= 1
    )
    return glued_before or glued_after


def _reads_as_company(
    text: str, tokens: list[tuple[int, int, str]], index: int, major: bool
) -> bool:
    """A doubtful one-word name is the company when a cue says so; for a major company, also
    when it stands capitalised on its own outside a Title Case headline."""
    after = tokens[index + 1][2].lower() if index + 1 < len(tokens) else ""
    before = tokens[index - 1][2].lower() if index > 0 else ""
    if after in _CUES_AFTER or before in _CUES_BEFORE:
        return True
    if not major or _inside_proper_name(tokens, index, 1):
        return False
    start = tokens[index][0]
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    words = [w for w in re.findall(r"[A-Za-z]+", line) if len(w) > 3]
    title_case = len(words) >= 3 and sum(w[0].isupper() for w in words) / len(words) > 0.6
    return not title_case


# Where one sentence turns from one company to another ("X beat estimates while Y cut …").
_CLAUSE_BREAK = re.compile(
    r"\s*(?:;|\s-\s|\s\u2013\s|\s\u2014\s|,?\s+(?:while|whereas|but|although|though|however|"
    r"meanwhile|even as|as opposed to)\s+|,\s+(?:and|with)\s+)",
    re.IGNORECASE,
)


def mention_contexts(text: str, mentions: Iterable[Mention]) -> list[str]:
    """The text each mention's sentiment is read from: its clause when the sentence names
    several companies, else its sentence (sentences from pysbd)."""
    from features.chunking import sentence_spans

    mentions = list(mentions)
    spans = sentence_spans(text)
    contexts = []
    for mention in mentions:
        a, b = next(((a, b) for a, b in spans if a <= mention.start < b), (0, len(text)))
        others = [m for m in mentions if a <= m.start < b and m.ticker != mention.ticker]
        if not others:
            contexts.append(text[a:b])
            continue
        clauses, at = [], a
        for cut in _CLAUSE_BREAK.finditer(text, a, b):
            clauses.append((at, cut.start()))
            at = cut.end()
        clauses.append((at, b))
        clause = next((text[x:y] for x, y in clauses if x <= mention.start < y), text[a:b])
        contexts.append(clause.strip(" ,;") or text[a:b])
    return contexts
