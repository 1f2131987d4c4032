"""The package stays typed (mypy --strict) and lint-clean (ruff): part of the normal test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_mypy_strict_on_the_package() -> None:
    result = subprocess.run([str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_on_code_and_tests() -> None:
    result = subprocess.run([str(BIN / "ruff"), "check", "policies", "proxy", "tests"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
