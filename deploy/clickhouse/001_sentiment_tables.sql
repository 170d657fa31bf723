-- One row per scored document. A replay after a crash writes the same (doc_id, model_version)
-- again; ReplacingMergeTree keeps the latest by scored_at, so read with FINAL (or uniq(doc_id)).
CREATE TABLE IF NOT EXISTS sentiment_docs
(
    doc_id          String,
    model_version   LowCardinality(String),
    kind            LowCardinality(String),
    source          LowCardinality(String),
    title           String,
    published_at    DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    scored_at       DateTime64(3, 'UTC'),
    tickers         Array(LowCardinality(String)),
    cik             String,
    label           LowCardinality(String),
    p_negative      Float32,
    p_neutral       Float32,
    p_positive      Float32,
    score           Float32,
    confidence      Float32,
    chunks          UInt16,
    evidence_negative        String,
    evidence_negative_score  Nullable(Float32),
    evidence_positive        String,
    evidence_positive_score  Nullable(Float32),
    latency_ms      Float32
)
ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(published_at)
ORDER BY (doc_id, model_version);

-- One row per document x linked ticker: the table per-ticker queries start from.
CREATE TABLE IF NOT EXISTS sentiment_mentions
(
    ticker          LowCardinality(String),
    published_at    DateTime64(3, 'UTC'),
    doc_id          String,
    model_version   LowCardinality(String),
    kind            LowCardinality(String),
    source          LowCardinality(String),
    label           LowCardinality(String),
    score           Float32,
    confidence      Float32,
    scored_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(published_at)
ORDER BY (ticker, published_at, doc_id, model_version);
