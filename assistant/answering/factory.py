"""The one place a mode name (setting `answer_mode`) becomes a backend."""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.answering import llm
from assistant.answering.base import Answerer
from assistant.answering.extractive.answerer import ExtractiveAnswerer
from assistant.answering.pool import PooledExtractor
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.settings import Settings

MODES = ("auto", "reader", "extractive", "openai", "llamacpp")
BUNDLED = "bundled:"
log = logging.getLogger(__name__)


def bundled_model(settings: Settings):
    """The bundled model `reader_model` names (models.BundledModel), or None for a GGUF path."""
    from assistant.answering.reader import models

    name = settings.reader_model
    return models.lookup(name[len(BUNDLED):]) if name.startswith(BUNDLED) else None


def reader_missing(settings: Settings) -> str | None:
    """Why the reader cannot run here (what to install), or None when it can."""
    from assistant.answering.reader import models, runtime

    if importlib.util.find_spec(runtime.PACKAGE) is None:
        return f"{runtime.PACKAGE}, which runs the reader, is not installed: {runtime.INSTALL}"
    if model := bundled_model(settings):
        return None if models.installed(model) else f"the reader model is not installed: {model.pip_names}"
    name = settings.reader_model
    return None if Path(name).expanduser().is_file() else f"reader_model {name!r} is not a file"


def resolve_mode(settings: Settings) -> str:
    """`auto` is the reader where it can run, the extractive answerer (with a logged reason) elsewhere."""
    mode = settings.answer_mode
    if mode not in MODES:
        raise ConfigError(f"unknown answer_mode {mode!r}; valid modes: {', '.join(MODES)}")
    if mode != "auto":
        return mode
    missing = reader_missing(settings)
    if missing:
        log.warning("answering without the reader (extractive mode): %s", missing)
        return "extractive"
    return "reader"


def reader_path(settings: Settings, progress: bool = True) -> Path:
    """The reader's GGUF file, assembled from its packages first if it is a bundled one."""
    from assistant.answering.reader import models

    model = bundled_model(settings)
    if model is None:
        return Path(settings.reader_model).expanduser()
    return models.assemble(model, settings.model_cache_dir, progress=progress)


@dataclass(frozen=True)
class ReaderProfile:
    sentences: int  # best-ranked sentences the model reads
    previous: bool  # each with the sentence before it
    calibration: Path  # its abstention weights


def reader_profile(settings: Settings) -> ReaderProfile:
    """How the chosen reader model reads: a bundled model's measured choice (models.py), the default
    model's for a GGUF path; `reader_sentences` overrides the count."""
    from assistant.answering.reader import calibration, models

    model = bundled_model(settings) or models.lookup(models.DEFAULT_MODEL)
    return ReaderProfile(settings.reader_sentences or model.sentences, model.previous,
                         calibration.WEIGHTS_PATH.with_name(model.calibration))


def make_answerer(settings: Settings, embeddings=None) -> Answerer:
    """The extractive answerer is always built: the other modes start from its evidence or fall
    back to it. With `answer_workers` it runs in worker processes (see `pool.py`)."""
    mode = resolve_mode(settings)
    embed = getattr(embeddings, "encode", None)
    extractor = PooledExtractor(settings.answer_workers) if settings.answer_workers else None
    extractive = ExtractiveAnswerer(extractor=extractor, embed=embed)
    if mode == "extractive":
        return extractive
    if mode == "reader":
        missing = reader_missing(settings)
        if missing:
            raise ConfigError(f"answer_mode=reader cannot run: {missing} (or use answer_mode=auto or extractive)")
        from assistant.answering.reader.answerer import ReaderAnswerer
        from assistant.answering.reader.calibration import ReaderCalibration
        from assistant.answering.reader.runtime import LlamaReader

        profile = reader_profile(settings)
        model = LlamaReader(reader_path(settings), threads=settings.reader_threads)
        return ReaderAnswerer(model, extractive, ReaderCalibration.load(profile.calibration),
                              busy_wait_s=settings.reader_wait_s, sentences=profile.sentences,
                              previous=profile.previous)
    chat = llm.openai_chat(settings) if mode == "openai" else llm.llamacpp_chat(settings)
    return llm.LLMAnswerer(chat, extractive, mode=mode)
