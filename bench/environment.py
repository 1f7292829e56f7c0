"""What a benchmark ran on, recorded next to every number: the machine, the versions, the load."""

from __future__ import annotations

import os
import platform
import re
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path

from bench.lib import ROOT


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


SIMD_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
              "amx_tile", "amx_int8")
# What bench/avx2/persona.c hides from CPUID (the kernel's /proc/cpuinfo still lists them).
PERSONA_HIDES = {"avx2": {"avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8"}}


def cpu_persona() -> str | None:
    """"avx2" when the process runs under bench/avx2/run, else None."""
    return "avx2" if os.environ.get("NEWSQA_CPU_PERSONA", "").startswith("avx2") else None


def cpu_flags() -> list[str]:
    """The SIMD flags that decide which kernels run: /proc/cpuinfo's, less what a persona hides."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split()) - PERSONA_HIDES.get(cpu_persona() or "", set())
                return [flag for flag in SIMD_FLAGS if flag in present]
    except OSError:
        pass
    return []


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    return {
        "nproc": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "cpu": _cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_persona": cpu_persona(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": _version("torch"),
        "sentence_transformers": _version("sentence-transformers"),
        "chromadb": _version("chromadb"),
        "langchain_core": _version("langchain-core"),
        "spacy": _version("spacy"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "code": code_fingerprint(),
    }


def code_fingerprint() -> str:
    """A short hash of the engine's sources (assistant/ with its subpackages and the JSON calibration
    in them, index/): the code is not always committed when a benchmark runs, so each result says
    which code produced it."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for folder in ("assistant", "index") for pattern in ("*.py", "*.json")
                       for p in (ROOT / folder).rglob(pattern)):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def loadavg() -> list[float] | None:
    """Other work on the same cores skews timings: every result records the load it ran under."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


_SECRET = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|DATABASE_URL")


def command_line() -> str:
    """The command as a reader would type it from the repository root: `python -m bench.eval ...`, after
    the NEWSQA_ settings set in the environment (`NEWSQA_ANSWER_MODE=extractive python -m ...`), which
    change the figures as much as the arguments do. Keys, passwords and database URLs are left out."""
    settings = [f"{name}={shlex.quote(value)}" for name, value in sorted(os.environ.items())
                if name.startswith("NEWSQA_") and not _SECRET.search(name)]
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        program = ["-m", spec.name.removesuffix(".__main__")]
    else:
        script = Path(sys.argv[0])
        try:
            script = script.resolve().relative_to(ROOT)
        except ValueError:
            pass
        program = [str(script)]
    return " ".join([*settings, "python", *program, *map(shlex.quote, sys.argv[1:])])


def offline_env() -> None:
    """The bundled model must never reach for the hub; tokenizers threads fight torch's on 2 cores."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
