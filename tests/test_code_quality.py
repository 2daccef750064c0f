"""Lint (ruff) and type-check (mypy on geo/, maps/, services/, bench/) as part of the suite, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff() -> None:
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy() -> None:
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_geo_imports_no_web_code() -> None:
    code = ("import sys, geo.layers, geo.validate, geo.queries, geo.locate, geo.filters, geo.export, geo.crs; "
            "print({'fastapi', 'starlette', 'folium', 'jinja2', 'uvicorn'} & set(sys.modules))")
    result = run(sys.executable, "-c", code)
    assert result.stdout.strip() == "set()", result.stdout + result.stderr
