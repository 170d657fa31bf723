-- One row per document x section (filing items, exhibits, FOMC statements and transcripts):
-- each section's own verdict and its most negative and most positive sentence. Same replay
-- rule as sentiment_docs: read with FINAL.
CREATE TABLE IF NOT EXISTS sentiment_sections
(
    doc_id          String,
    model_version   LowCardinality(String),
    section_index   UInt16,
    section         LowCardinality(String),
    section_title   String,
    kind            LowCardinality(String),
    source          LowCardinality(String),
    form            LowCardinality(String),
    published_at    DateTime64(3, 'UTC'),
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
    scored_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(published_at)
ORDER BY (doc_id, model_version, section_index);
