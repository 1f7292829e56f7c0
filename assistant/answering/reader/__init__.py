"""The reader: a small instruct model that writes the short answer from the best evidence sentences.

One module per job: `models` (the bundled GGUF models and their hash-checked assembly), `runtime`
(running a GGUF through xllamacpp), `support` (is the reply a span of a shown sentence),
`calibration` (when to abstain), `answerer` (the `answer_mode=reader` backend).
"""
