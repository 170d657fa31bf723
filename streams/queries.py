"""Named, documented SQL over the sentiment history (``finsent sql --example NAME``).

Every value a user gives is a bound ``{name:Type}`` parameter, never pasted into the SQL.
Times are UTC. Queries that speak of "today" or "this week" take ``as_of`` (default: the
latest document in the store), so they also make sense on replayed history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streams.errors import ConfigError

# The reference time of the "today / this week" examples: as_of, or the newest mention.
_AS_OF = (
    "coalesce({as_of:Nullable(DateTime64(3, 'UTC'))}, "
    "(SELECT max(published_at) FROM sentiment_mentions))"
)
_SINCE_T = "{since:Nullable(DateTime64(3, 'UTC'))}"


def _rollup_series(bucket: str, alias: str) -> str:
    """One ticker's rollups grouped by ``bucket`` (named ``alias``): documents, score, counts."""
    head = alias if bucket == alias else f"{bucket} AS {alias}"
    return f"""
SELECT {head},
       uniqExactMerge(docs) AS documents,
       round(arrayAvg(maxMapMerge(scores).2), 4) AS avg_score,
       uniqExactIfMerge(positive) AS positive,
       uniqExactIfMerge(negative) AS negative
FROM sentiment_minute
WHERE ticker = {{ticker:String}} AND {_since("minute")}
GROUP BY {alias}
ORDER BY {alias}
"""


def _since(column: str) -> str:
    return f"({_SINCE_T} IS NULL OR {column} >= {_SINCE_T})"


@dataclass(frozen=True)
class Param:
    """One bound parameter of a named query."""

    name: str
    type: str  # the ClickHouse type in the SQL's {name:Type}
    default: str | None  # None: NULL (for Nullable types) or required
    help: str
    required: bool = False


@dataclass(frozen=True)
class NamedQuery:
    """A documented query with its parameters."""

    name: str
    summary: str
    sql: str
    params: tuple[Param, ...] = ()

    def bind(self, given: Mapping[str, str]) -> dict[str, str | None]:
        """The parameter values for ``given``, defaults filled in; unknown or missing ones fail."""
        known = {p.name for p in self.params}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ConfigError(
                f"example {self.name!r} takes {sorted(known) or 'no parameters'}, got {unknown}"
            )
        values: dict[str, str | None] = {}
        for param in self.params:
            if param.name in given:
                values[param.name] = given[param.name]
            elif param.required:
                raise ConfigError(f"example {self.name!r} needs -p {param.name}=... ({param.help})")
            else:
                values[param.name] = param.default
        return values


TICKER = Param("ticker", "String", None, "ticker symbol, e.g. AAPL", required=True)
SINCE = Param(
    "since", "Nullable(DateTime64(3, 'UTC'))", None, "first time, ISO 8601 (all when left out)"
)
AS_OF = Param(
    "as_of",
    "Nullable(DateTime64(3, 'UTC'))",
    None,
    "reference time, ISO 8601 (the newest document when left out)",
)
LIMIT = Param("limit", "UInt32", "20", "most rows")

EXAMPLES: dict[str, NamedQuery] = {
    q.name: q
    for q in (
        NamedQuery(
            "latest",
            "Latest sentiment per ticker: the newest document's score and label, and the "
            "average over the ticker's last 10 documents.",
            """
SELECT ticker,
       max(published_at) AS latest_at,
       argMax(label, published_at) AS latest_label,
       round(argMax(score, published_at), 3) AS latest_score,
       round(arrayAvg(arraySlice(
           arrayReverseSort(x -> x.1, groupArray((published_at, score))), 1, 10).2), 3)
           AS avg_last_10,
       count() AS documents
FROM sentiment_mentions FINAL
GROUP BY ticker
ORDER BY latest_at DESC, ticker
LIMIT {limit:UInt32}
""",
            (LIMIT,),
        ),
        NamedQuery(
            "minute_series",
            "Per-minute series of one ticker from the rollups: documents, average score, "
            "positive and negative counts.",
            _rollup_series("minute", "minute"),
            (TICKER, SINCE),
        ),
        NamedQuery(
            "daily_series",
            "Daily series of one ticker from the rollups: documents and average score per day.",
            _rollup_series("toDate(minute)", "day"),
            (TICKER, SINCE),
        ),
        NamedQuery(
            "ewm_score",
            "Exponentially weighted score of one ticker after each document: older documents "
            "weigh half as much per half_life_hours.",
            f"""
SELECT published_at,
       doc_id,
       round(score, 4) AS score,
       round(exponentialTimeDecayedAvg({{half_life_hours:Float64}} * 3600 / ln(2))(
           score, toUnixTimestamp64Milli(published_at) / 1000)
           OVER (ORDER BY published_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 4)
           AS ewm_score
FROM sentiment_mentions FINAL
WHERE ticker = {{ticker:String}} AND {_since("published_at")}
ORDER BY published_at
""",
            (TICKER, Param("half_life_hours", "Float64", "24", "half-life in hours"), SINCE),
        ),
        NamedQuery(
            "zscore_today",
            "Z-score of each ticker's average score on the as_of day against its daily "
            "averages over the 30 days before (tickers with at least min_days such days).",
            f"""
WITH toDate({_AS_OF}) AS today
SELECT ticker,
       anyIf(day_score, day = today) AS today_score,
       anyIf(documents, day = today) AS today_documents,
       round(avgIf(day_score, day < today), 4) AS mean_30d,
       round(stddevSampIf(day_score, day < today), 4) AS std_30d,
       countIf(day < today) AS days_30d,
       round((today_score - mean_30d) / nullIf(std_30d, 0), 2) AS z
FROM
(
    SELECT ticker, toDate(minute) AS day,
           round(arrayAvg(maxMapMerge(scores).2), 4) AS day_score,
           uniqExactMerge(docs) AS documents
    FROM sentiment_minute
    WHERE toDate(minute) BETWEEN today - 30 AND today
    GROUP BY ticker, day
)
GROUP BY ticker
HAVING countIf(day = today) > 0 AND days_30d >= {{min_days:UInt32}}
ORDER BY abs(z) DESC NULLS LAST, ticker
""",
            (AS_OF, Param("min_days", "UInt32", "2", "fewest earlier days with documents")),
        ),
        NamedQuery(
            "volume_spikes",
            "Days on which a ticker drew at least `ratio` times its average daily documents "
            "of the 30 days before (days without documents count as zero), newest first.",
            f"""
SELECT ticker, day, documents,
       round(baseline, 3) AS baseline_per_day,
       round(documents / greatest(baseline, 1 / 30), 1) AS ratio
FROM
(
    SELECT ticker, day, documents,
           sum(documents) OVER (PARTITION BY ticker ORDER BY day
                                RANGE BETWEEN 30 PRECEDING AND 1 PRECEDING) / 30 AS baseline
    FROM
    (
        SELECT ticker, toDate(minute) AS day, uniqExactMerge(docs) AS documents
        FROM sentiment_minute
        GROUP BY ticker, day
    )
)
WHERE {_since("day")} AND documents >= {{min_documents:UInt32}}
  AND documents >= {{ratio:Float64}} * greatest(baseline, 1 / 30)
ORDER BY day DESC, ratio DESC, ticker
LIMIT {{limit:UInt32}}
""",
            (
                SINCE,
                Param("ratio", "Float64", "3", "how many times the baseline"),
                Param("min_documents", "UInt32", "3", "fewest documents on a spike day"),
                LIMIT,
            ),
        ),
        NamedQuery(
            "negative_filings_week",
            "Most negative filings of the 7 days up to as_of (default: the newest filing), "
            "with the most negative passage as evidence.",
            """
WITH coalesce({as_of:Nullable(DateTime64(3, 'UTC'))},
              (SELECT max(published_at) FROM sentiment_docs WHERE kind = 'filing')) AS until
SELECT published_at, tickers, title, round(score, 3) AS score, label,
       substring(evidence_negative, 1, 160) AS evidence
FROM sentiment_docs FINAL
WHERE kind = 'filing' AND published_at > until - INTERVAL {days:UInt32} DAY
  AND published_at <= until
ORDER BY score ASC, published_at DESC
LIMIT {limit:UInt32}
""",
            (AS_OF, Param("days", "UInt32", "7", "window length in days"), LIMIT),
        ),
    )
}


def example(name: str) -> NamedQuery:
    """The named query ``name``; an unknown name lists the known ones."""
    try:
        return EXAMPLES[name]
    except KeyError:
        raise ConfigError(f"no example {name!r}; known: {', '.join(EXAMPLES)}") from None
