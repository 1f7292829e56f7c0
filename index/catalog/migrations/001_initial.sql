-- The PostgreSQL catalog's first schema: the SQLite catalog's tables, with the lexical index as a
-- tsvector column (GIN-indexed) and the counts BM25 needs kept beside it (lexemes, counters).
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    published TEXT,
    author TEXT,
    subject TEXT,
    text TEXT NOT NULL,
    passages INTEGER NOT NULL,
    ingested_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
);
CREATE INDEX documents_source ON documents (source);
CREATE INDEX documents_published ON documents (published);
CREATE TABLE passages (
    passage_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    sentences TEXT NOT NULL,
    terms TSVECTOR NOT NULL,  -- the lexical index's entry: title and passage, English-stemmed
    length INTEGER NOT NULL   -- words in the entry, BM25's document length
);
CREATE INDEX passages_doc ON passages (doc_id);
CREATE INDEX passages_terms ON passages USING GIN (terms);
-- In how many passages each lexeme occurs (BM25's document frequency), kept by the writer.
CREATE TABLE lexemes (
    lexeme TEXT PRIMARY KEY,
    df INTEGER NOT NULL
);
-- passages, documents, words (summed lengths) and generation (bumped by every committed change).
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters VALUES ('documents', 0), ('passages', 0), ('words', 0), ('generation', 0);
-- Chroma writes not yet matched by a committed catalog state (see index/store.py).
CREATE TABLE pending_vectors (
    doc_id TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (doc_id, version)
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
