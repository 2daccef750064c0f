"""Faults outside the request: broken data files, a full disk, an export killed half-way. Each ends in a message
that names what is wrong (never a traceback), and leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo.export import COLLECTIONS, FORMATS, get_format, sweep_staging
from geo.layers import Layers
from services.app import create_app

FORMAT_NAMES = list(FORMATS)


def nbgis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbgis", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 KiB tmpfs: too small for any export of every layer (root only; CI runs as root)."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_truncated_data_file_is_named_by_serve_and_validate(data_copy: Path) -> None:
    parks = data_copy / "parks.geojson"
    parks.write_bytes(parks.read_bytes()[:20_000])
    served = nbgis("serve", "--data", str(data_copy), "--port", "1")
    assert served.returncode == 1
    assert served.stderr.count("\n") == 1 and "Traceback" not in served.stderr
    assert str(parks) in served.stderr and "not valid JSON" in served.stderr
    checked = nbgis("validate", str(data_copy))
    assert checked.returncode == 1 and "Traceback" not in checked.stderr + checked.stdout
    assert str(parks) in checked.stdout


def test_unknown_kind_is_refused_by_name(data_copy: Path) -> None:
    parks = data_copy / "parks.geojson"
    doc = json.loads(parks.read_text(encoding="utf-8"))
    doc["features"][3]["properties"]["kind"] = "science-city"
    victim = doc["features"][3]["properties"]["id"]
    parks.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    served = nbgis("serve", "--data", str(data_copy), "--port", "1")
    assert served.returncode == 1 and "Traceback" not in served.stderr
    assert victim in served.stderr and "'science-city' is not a kind" in served.stderr
    checked = nbgis("validate", str(data_copy))
    assert checked.returncode == 1 and "Traceback" not in checked.stdout + checked.stderr
    assert victim in checked.stdout and "science-city" in checked.stdout


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_export_to_a_full_disk_says_so_in_one_line(full_disk: Path, fmt: str) -> None:
    name = get_format(fmt).filename("all", len(COLLECTIONS))  # all.zip where the layers are a file each
    done = nbgis("export", "all", "--format", fmt, "-o", str(full_disk / name))
    errors = [line for line in done.stderr.splitlines() if not line.startswith("nbgis: note:")]
    assert done.returncode == 1, done.stderr
    assert len(errors) == 1 and errors[0].startswith("nbgis: error: cannot write"), done.stderr
    assert "space" in errors[0].lower()
    assert list(full_disk.iterdir()) == []  # no partial file, no staging folder


def test_service_export_with_a_full_temporary_folder_is_a_507(layers: Layers, full_disk: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(full_disk))
    client = TestClient(create_app(layers), raise_server_exceptions=False)
    for fmt in ("gpkg", "shapefile", "dxf"):
        response = client.get("/export", params={"f": fmt})
        assert response.status_code == 507, response.text
        assert response.json()["code"] == "InsufficientStorage"
    assert list(full_disk.iterdir()) == []


def test_staging_left_by_a_killed_export_is_swept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".all.gpkg.nbgis-{dead.pid}-abc123.tmp"
    stale.mkdir()
    (stale / "all.gpkg").write_bytes(b"half")
    live = tmp_path / f".all.gpkg.nbgis-{os.getpid()}-def456.tmp"  # this process runs: kept
    live.mkdir()
    done = nbgis("export", "subparks", "--format", "gpkg", "-o", str(tmp_path / "subparks.gpkg"))
    assert done.returncode == 0, done.stderr
    assert not stale.exists() and live.exists()
    assert sweep_staging(tmp_path) == 0
