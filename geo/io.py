"""File input and output shared by the loaders, the build scripts and the CLI."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


class DataFileError(ValueError):
    """A data file that cannot be read as it must be; the message names the file (and the feature, the rule)."""


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as exc:
        raise DataFileError(f"{path}: missing") from exc
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg} (a "
                            f"truncated or hand-edited file?)") from exc
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def nested_deeper_than(node: Any, limit: int) -> bool:
    """Whether JSON-like data (dicts and lists) nests deeper than `limit` levels, found with a stack rather than
    recursion, so that no depth can overflow it."""
    stack = [(node, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)
    return False


@contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """A file to write that appears at `path` only when the block ends without error.

    It is written beside `path`, synced, then renamed over it: a reader never sees a half-written file,
    and a failure (or a crash) leaves the old one as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        publish(Path(tmp), path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_file(path) as f:
        f.write(data)


def publish(staged: Path, path: Path) -> None:
    """Give a finished temporary file ordinary permissions and rename it over `path` in one step."""
    os.chmod(staged, 0o644 & ~_umask())
    os.replace(staged, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, obj: Any) -> None:
    text = json.dumps(obj, ensure_ascii=False, indent=1) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))


def write_geojson_atomic(path: Path, collection: dict[str, Any]) -> None:
    """Write a FeatureCollection with one feature per line: compact, yet diffs stay per feature."""
    head = {k: v for k, v in collection.items() if k != "features"}
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in collection["features"]]
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n' + ",\n".join(lines) + "\n]}\n"
    write_bytes_atomic(path, text.encode("utf-8"))
