-- Thumbs up/down from every replica in one place (the SQLite mode appends to data_dir/feedback.jsonl).
CREATE TABLE feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry JSONB NOT NULL,
    received TIMESTAMPTZ NOT NULL DEFAULT now()
);
