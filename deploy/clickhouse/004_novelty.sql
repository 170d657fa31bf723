-- Novelty: which story a document belongs to (the doc_id of the story's first document seen
-- within the worker's novelty window) and how new it is (1 new story, 0 exact repeat, between:
-- near-duplicate). Count stories, not re-publications, with uniqExact(story_id). Rows from
-- before this migration read as their own story, novelty 1.
ALTER TABLE sentiment_docs ADD COLUMN IF NOT EXISTS story_id String DEFAULT doc_id;
ALTER TABLE sentiment_docs ADD COLUMN IF NOT EXISTS novelty Float32 DEFAULT 1;
ALTER TABLE sentiment_docs ADD COLUMN IF NOT EXISTS duplicate_of String DEFAULT '';
ALTER TABLE sentiment_mentions ADD COLUMN IF NOT EXISTS story_id String DEFAULT doc_id;
ALTER TABLE sentiment_mentions ADD COLUMN IF NOT EXISTS novelty Float32 DEFAULT 1;
