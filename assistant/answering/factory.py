"""The one place a mode name (setting `answer_mode`) becomes a backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.answering import llm
from assistant.answering.base import Answerer
from assistant.answering.extractive.answerer import ExtractiveAnswerer
from assistant.answering.pool import PooledExtractor
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.settings import Settings

MODES = ("extractive", "openai", "llamacpp")


def make_answerer(settings: Settings, embeddings=None) -> Answerer:
    """The extractive answerer is always built: the LLM modes fall back to it, and take its short
    answer and confidence. With `answer_workers` it runs in worker processes (see `pool.py`)."""
    mode = settings.answer_mode
    if mode not in MODES:
        raise ConfigError(f"unknown answer_mode {mode!r}; valid modes: {', '.join(MODES)}")
    embed = getattr(embeddings, "encode", None)
    extractor = PooledExtractor(settings.answer_workers) if settings.answer_workers else None
    extractive = ExtractiveAnswerer(extractor=extractor, embed=embed)
    if mode == "extractive":
        return extractive
    chat = llm.openai_chat(settings) if mode == "openai" else llm.llamacpp_chat(settings)
    return llm.LLMAnswerer(chat, extractive, mode=mode)
