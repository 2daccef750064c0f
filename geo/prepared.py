"""The prepared areas of geo.locate, kept on disk between runs of `nbgis locate`.

Preparing the areas (geo.locate.Locator.from_layers) and gridding the sub-parks' boundaries for the nearest
search (geo.nearest) take 0.4-1 s; a command that locates one file does both every time. The prepared Locator
is pickled into the user's cache folder under a key made of everything it is built from: the stored features'
geometry and properties, the code that builds it and the libraries' versions. Any change makes a new key, so
a kept copy is never stale; an unreadable or unwritable cache only costs the time it would have saved, and a
copy anybody but the user could have written is never loaded. A kept copy is found from the store's features
alone, so a command that finds one never imports GeoPandas (~0.3 s of its start-up).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import orjson
import pyproj
import shapely

from geo.io import write_bytes_atomic
from geo.locate import Locator
from geo.store.base import Feature

_LAYERS = ("parks", "districts")  # the stored layers whose areas from_layers reads
_CODE = ("layers.py", "locate.py", "nearest.py", "grid.py", "plane.py", "measure.py")  # what shapes the pickle
_KEEP = 4  # copies kept: one per recent version of the areas


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/nbgis, else ~/.cache/nbgis."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nbgis"


def key_of(features: dict[str, list[Feature]]) -> str:
    """A digest of all a Locator is built from: the stored areas (a store's snapshot features), the code, the
    libraries."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _CODE:
        digest.update((here / name).read_bytes())
    digest.update(f"{pickle.HIGHEST_PROTOCOL} {np.__version__} {shapely.__version__} {pyproj.__version__} "
                  f"{pyproj.proj_version_str}".encode())
    for layer in _LAYERS:
        kept = features[layer]
        digest.update(orjson.dumps([layer, [[f.id, f.properties] for f in kept]], option=orjson.OPT_SORT_KEYS,
                                   default=str))
        for wkb in shapely.to_wkb([f.geometry for f in kept]):
            digest.update(b"" if wkb is None else wkb)
    return digest.hexdigest()[:32]


def _trusted(status: os.stat_result) -> bool:
    """Whether a kept copy may be unpickled: the user's own file, which nobody else may write (a pickle runs
    code as it loads, so a file another account could have written is rebuilt instead)."""
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


def prepared_locator(features: dict[str, list[Feature]], data_dir: Path, folder: Path | None = None) -> Locator:
    """The Locator of a store's features (with the reference documents of data_dir) and its segment grid: from the
    cache when kept there, else built and kept."""
    folder = folder or cache_dir()
    path = folder / f"locator-{key_of(features)}.pickle"
    try:
        with open(path, "rb") as kept:
            if _trusted(os.fstat(kept.fileno())):
                locator = pickle.load(kept)
                if isinstance(locator, Locator):
                    return locator
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        pass  # not kept yet, or written by another version: build it
    from geo.layers import build_layers  # GeoPandas, only when building

    locator = Locator.from_layers(build_layers(features, data_dir))
    locator.segment_grid()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_bytes_atomic(path, pickle.dumps(locator, protocol=pickle.HIGHEST_PROTOCOL))
        for old in sorted(folder.glob("locator-*.pickle"), key=lambda p: p.stat().st_mtime)[:-_KEEP]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only home: build each time
    return locator
