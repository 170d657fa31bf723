-- Per-ticker per-minute aggregates, maintained by ClickHouse itself: a materialized view turns
-- every insert into sentiment_mentions into partial aggregate states, merged in the background.
--
-- A document delivered twice (a replay after a crash) is inserted twice, so the view sees it
-- twice. Every aggregate here is idempotent per document: distinct doc_id counts, and a
-- doc_id -> score map that keeps one score per document (maxMap). Read with the -Merge
-- combinators, grouped by (ticker, minute):
--
--   SELECT ticker, minute, uniqExactMerge(docs) AS docs,
--          arrayAvg(maxMapMerge(scores).2) AS avg_score
--   FROM sentiment_minute GROUP BY ticker, minute
--
-- Retention: FINSENT_ROLLUP_TTL_DAYS sets a TTL on `minute` when the worker starts (0 keeps
-- everything).
CREATE TABLE IF NOT EXISTS sentiment_minute
(
    ticker          LowCardinality(String),
    minute          DateTime('UTC'),
    model_version   LowCardinality(String),
    docs            AggregateFunction(uniqExact, String),
    scores          AggregateFunction(maxMap, Array(String), Array(Float32)),
    positive        AggregateFunction(uniqExactIf, String, UInt8),
    negative        AggregateFunction(uniqExactIf, String, UInt8),
    min_score       SimpleAggregateFunction(min, Float32),
    max_score       SimpleAggregateFunction(max, Float32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(minute)
ORDER BY (ticker, minute, model_version);

CREATE MATERIALIZED VIEW IF NOT EXISTS sentiment_minute_mv TO sentiment_minute AS
SELECT
    ticker,
    toStartOfMinute(published_at) AS minute,
    model_version,
    uniqExactState(doc_id) AS docs,
    maxMapState([doc_id], [score]) AS scores,
    uniqExactIfState(doc_id, label = 'positive') AS positive,
    uniqExactIfState(doc_id, label = 'negative') AS negative,
    min(score) AS min_score,
    max(score) AS max_score
FROM sentiment_mentions
GROUP BY ticker, minute, model_version;

-- Mentions stored before this migration: the same aggregates, safe to repeat (a migration
-- stopped half-way reruns cleanly). Replayed history can span decades: no partition limit.
INSERT INTO sentiment_minute
SELECT
    ticker,
    toStartOfMinute(published_at) AS minute,
    model_version,
    uniqExactState(doc_id),
    maxMapState([doc_id], [score]),
    uniqExactIfState(doc_id, label = 'positive'),
    uniqExactIfState(doc_id, label = 'negative'),
    min(score),
    max(score)
FROM sentiment_mentions
GROUP BY ticker, minute, model_version
SETTINGS max_partitions_per_insert_block = 0;
