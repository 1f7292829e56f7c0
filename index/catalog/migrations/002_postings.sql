-- Lexical search reads a postings table instead of unnesting each candidate's tsvector: on the
-- RealTime QA index (54,401 passages) scoring 5,644 candidates that way took 450 ms, nearly all of it
-- in unnest (bench/retrieval.py --database-url, 143 ms a question against SQLite's 21 ms). A posting
-- holds what BM25 needs for one lexeme in one passage (tf, and the passage's length), in an index an
-- index-only scan answers from.
ALTER TABLE passages ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE passages ADD CONSTRAINT passages_id UNIQUE (id);
CREATE TABLE postings (
    lexeme TEXT NOT NULL,
    passage BIGINT NOT NULL,  -- passages.id; deleted with its passage by the writer, in the same transaction
    tf SMALLINT NOT NULL,
    length INTEGER NOT NULL,
    PRIMARY KEY (lexeme, passage) INCLUDE (tf, length)
);
CREATE INDEX postings_passage ON postings (passage);
INSERT INTO postings (lexeme, passage, tf, length)
    SELECT u.lexeme, p.id, cardinality(u.positions), p.length FROM passages p, unnest(p.terms) u;
DROP INDEX passages_terms;
ALTER TABLE passages DROP COLUMN terms;
