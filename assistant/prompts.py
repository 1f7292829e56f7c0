"""Prompt templates live as files in `prompts/`, loaded by name; every variable must be filled."""

import string
from functools import lru_cache
from pathlib import Path

from core.errors import ConfigError

PROMPT_DIR = Path(__file__).resolve().parent.parent / "prompts"


@lru_cache
def load(name: str) -> str:
    path = PROMPT_DIR / f"{name}.md"
    if not path.is_file():
        known = sorted(p.stem for p in PROMPT_DIR.glob("*.md"))
        raise ConfigError(f"no prompt named {name!r}; known prompts: {', '.join(known)}")
    return path.read_text(encoding="utf-8")


def variables(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def render(name: str, **values: str) -> str:
    template = load(name)
    needed = variables(template)
    missing, extra = needed - values.keys(), values.keys() - needed
    if missing or extra:
        raise ConfigError(f"prompt {name!r} needs {sorted(needed)}; missing {sorted(missing)}, unexpected {sorted(extra)}")
    return template.format(**values)
