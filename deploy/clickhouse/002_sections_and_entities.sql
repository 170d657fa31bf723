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

-- Entity linking: how central the company is to the document (0..1, title/early/often), how
-- often it is named, and the sentiment of its own mentions (equal to the document's when the
-- text names one company). Rows from before this migration read relevance 1 and the document
-- score.
ALTER TABLE sentiment_mentions ADD COLUMN IF NOT EXISTS relevance Float32 DEFAULT 1;
ALTER TABLE sentiment_mentions ADD COLUMN IF NOT EXISTS mention_count UInt16 DEFAULT 0;
ALTER TABLE sentiment_mentions ADD COLUMN IF NOT EXISTS entity_score Float32 DEFAULT score;
ALTER TABLE sentiment_mentions ADD COLUMN IF NOT EXISTS entity_label LowCardinality(String) DEFAULT label;
