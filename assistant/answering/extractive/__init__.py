"""The offline answerer: evidence sentences, a short answer span and a confidence, no LLM.

Why it is built this way (the measurements are in `bench/extractive_dev.py`):

- Every candidate sentence is first ranked lexically on normalised tokens (lowercase, possessive
  "s" dropped, light suffix stemming), because wire copy often arrives with its apostrophes
  stripped ("Syria s Raqqa") and because this costs well under a millisecond.
- The spaCy parse is the expensive part (about 5 ms a sentence on 2 CPU cores), so only the
  question and the two or three best sentences are parsed, in one `nlp.pipe` batch.
- Short answers come from named entities whose label fits the question's answer type, and from
  dependency patterns that map the question's wh-role onto the matching verb of the sentence
  ("Who brokered the deal?" -> the agent of "was brokered by ..."). Spans that only repeat the
  question are dropped.
- The confidence is a small logistic model over how much of the question the passages contain,
  fitted on SQuAD-2 (answerable vs unanswerable and vs a wrong paragraph); the engine abstains
  below the threshold fitted with it. Both are in `weights.json`.
- The embedder is optional and off by default: it added 1.6 points of sentence accuracy for three
  times the latency of everything else.

One module per job, in the order a question meets them: `text` (normalisation), `question`
(answer type, wh-role), `scoring` (sentence ranking), `patterns` and `spans` (short-answer
candidates in a parse), `confidence` (features and the fitted model), `answerer` (the pipeline and
the `answer_mode=extractive` backend).
"""
