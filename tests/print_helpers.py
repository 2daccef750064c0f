"""Reading print maps back with independent tools: poppler (pdffonts, pdftotext, pdfinfo, pdftoppm) for PDFs,
the PNG header for a PNG's size, the standard library's XML parser for an SVG."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest


def poppler(tool: str) -> str:
    """A poppler-utils program; a skip when it is missing, a failure under CI (.ci/run installs it)."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is missing: apt-get install poppler-utils"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(tool: str, *args: str) -> str:
    return subprocess.run([poppler(tool), *args], check=True, capture_output=True, text=True, timeout=60).stdout


def pdf_fonts(pdf: Path) -> list[dict[str, str]]:
    """pdffonts' table: name, type, encoding, emb, sub, uni per font."""
    lines = run("pdffonts", str(pdf)).splitlines()[2:]
    rows = []
    for line in lines:
        # name, type (may hold spaces: "CID TrueType"), encoding, emb, sub, uni, object id, generation
        m = re.match(r"^(\S+)\s+(.+?)\s+(\S+)\s+(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$", line)
        assert m, line
        rows.append(dict(zip(("name", "type", "encoding", "emb", "sub", "uni"), m.groups())))
    return rows


def pdf_text(pdf: Path) -> str:
    """The text pdftotext finds, with every space and line break taken out (the notes are wrapped)."""
    return re.sub(r"\s+", "", run("pdftotext", "-enc", "UTF-8", str(pdf), "-"))


def pdf_page_points(pdf: Path) -> tuple[float, float]:
    m = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", run("pdfinfo", str(pdf)))
    assert m
    return float(m.group(1)), float(m.group(2))


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    width, height = struct.unpack(">II", data[16:24])
    return width, height
