"""The tests: unit/ runs in seconds on deterministic fakes; integration/ uses the real parts (the bundled
MiniLM, spaCy, Chroma embedded and as a `chroma run` server, uvicorn, processes, a browser). Shared
helpers are in support.py, fixtures in conftest.py. A package, so every module imports `tests.support`
by one name."""
