"""The answering stage: passages in, a drafted answer out.

`base` holds the interface and the typed objects (RetrievedPassage, Draft, Answer); one module or
folder per backend (`extractive/`, `llm`); `pool` runs the extractive answerer in worker processes;
`factory.make_answerer` is the one place a mode name becomes a backend.
"""
