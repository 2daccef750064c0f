"""The committed layers are exactly what the build scripts draw from the plan: no hand edits drift in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script, layer", [("build_parks.py", "parks.geojson"),
                                           ("build_platforms.py", "platforms.geojson")])
def test_build_reproduces_committed_layer(tmp_path: Path, script: str, layer: str) -> None:
    out = tmp_path / layer
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / script), str(out)], cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == (ROOT / "data" / layer).read_bytes()
