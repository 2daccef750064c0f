"""Peer OGC API - Features servers for the benchmarks: pygeoapi (GeoJSON and GeoPackage providers) and tipg on PostGIS.

Each peer lives in its own virtualenv under the work folder, installed on first use and reused after, and runs with
N uvicorn workers on 127.0.0.1 over the same files bench.data writes, so a load generator compares servers, not data.
bench.serving checks every answer against ours before it loads them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyogrio
import shapely

from bench import postgres
from bench.data import Dataset

PYGEOAPI_VERSION = "0.24.0"
TIPG_VERSION = "1.6.1"
# The same uvicorn (with httptools and uvloop, its "standard" extra) and Starlette as our service runs on, so the
# HTTP layer is not what differs between servers.
UVICORN_VERSION = version("uvicorn")
UVICORN = f"uvicorn[standard]=={UVICORN_VERSION}"
STARLETTE_VERSION = version("starlette")
DATABASE = "bench"
ACCEPT = "application/geo+json, application/json"  # every server is asked for the same media type
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Server:
    """A running peer: where it listens and what it calls our collections."""

    name: str
    url: str
    collections: dict[str, str]
    query: str = ""


def _run(*args: object, input: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
         ) -> str:
    """Run a command quietly; its standard output, or an error that shows the end of what it said."""
    done = subprocess.run([str(a) for a in args], input=input, env=None if env is None else {**os.environ, **env},
                          cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        said = "\n".join((done.stderr or done.stdout).splitlines()[-20:])
        raise RuntimeError(f"{' '.join(map(str, args))} exited with {done.returncode}:\n{said}")
    return done.stdout


def apt_install(*packages: str) -> None:
    """Install the Debian packages not yet installed; refresh the package lists only if the first try fails."""
    missing = [p for p in packages if "install ok installed" not in subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout]
    if not missing:
        return
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        _run(*install, env=env)
    except RuntimeError:
        _run("apt-get", "update", "-q", env=env)
        _run(*install, env=env)


def ensure_command(name: str) -> str:
    """The path of a command from the Debian package of the same name (wrk, chromium), installed if missing."""
    if not shutil.which(name):
        apt_install(name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed and apt-get could not install it")
    return found


def _python_312() -> str:
    """pygeoapi 0.24 needs Python >= 3.12, newer than this project's: the oldest such interpreter on the machine."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(n) for n in ("python3.12", "python3.13", "python3")]
    candidates += [str(p) for p in sorted(pyenv.glob("3.1[2-9]*/bin/python3"))]
    for exe in filter(None, candidates):
        probe = [exe, "-c", "import sys, venv; sys.exit(sys.version_info < (3, 12))"]
        if subprocess.run(probe, capture_output=True).returncode == 0:
            return exe
    raise RuntimeError("pygeoapi 0.24 needs Python >= 3.12 and none was found")


def _venv(path: Path, python: str, packages: list[str], check: str, setup: str = "") -> Path:
    """The virtualenv at path, made with packages unless it exists and `check` runs in it; `setup` runs after pip."""
    exe = path / "bin" / "python"
    if exe.exists() and subprocess.run([exe, "-c", check], capture_output=True).returncode == 0:
        return exe
    shutil.rmtree(path, ignore_errors=True)
    _run(python, "-m", "venv", path)
    _run(exe, "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages)
    if setup:
        _run(exe, "-c", setup)
    _run(exe, "-c", check)
    return exe


# pygeoapi's SQLiteGPKG provider loads SpatiaLite into the sqlite3 module, which this machine's Pythons are built
# without (no enable_load_extension); pysqlite3-binary has it, so a .pth file makes it the venv's sqlite3.
_PYSQLITE3_PTH = ("import sys, pysqlite3, pysqlite3.dbapi2; "
                  "sys.modules.update({'sqlite3': pysqlite3, 'sqlite3.dbapi2': pysqlite3.dbapi2})")
_PYGEOAPI_SETUP = ("import pathlib, sysconfig; pathlib.Path(sysconfig.get_path('purelib'), 'pysqlite3_as_sqlite3.pth')"
                   f".write_text({_PYSQLITE3_PTH!r} + '\\n')")
_PYGEOAPI_CHECK = ("import pygeoapi, sqlite3, starlette, uvicorn, uvloop, httptools, geoalchemy2, psycopg2; "
                   "assert (pygeoapi.__version__, uvicorn.__version__, starlette.__version__) == "
                   f"{(PYGEOAPI_VERSION, UVICORN_VERSION, STARLETTE_VERSION)!r}; "
                   "c = sqlite3.connect(':memory:'); c.enable_load_extension(True); "
                   "c.execute(\"SELECT load_extension('mod_spatialite')\")")


@cache  # once per run: the check starts the venv's Python
def ensure_pygeoapi(work: Path) -> Path:
    """pygeoapi in work/venv-pygeoapi with uvicorn, SpatiaLite for its GeoPackage provider, and GeoAlchemy2 and
    psycopg2 for its PostgreSQL provider (bench.writes); the venv's python."""
    apt_install("libsqlite3-mod-spatialite")
    packages = [f"pygeoapi=={PYGEOAPI_VERSION}", UVICORN, f"starlette=={STARLETTE_VERSION}",
                "pysqlite3-binary", "GeoAlchemy2", "psycopg2-binary"]
    return _venv(work / "venv-pygeoapi", _python_312(), packages, _PYGEOAPI_CHECK, _PYGEOAPI_SETUP)


@cache
def ensure_tipg(work: Path) -> Path:
    """tipg in work/venv-tipg with uvicorn; the venv's python."""
    check = ("import tipg.main, uvicorn, uvloop, httptools; "
             f"assert (tipg.__version__, uvicorn.__version__) == {(TIPG_VERSION, UVICORN_VERSION)!r}")
    return _venv(work / "venv-tipg", sys.executable, [f"tipg=={TIPG_VERSION}", UVICORN], check)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 60) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


@contextmanager
def serve_process(command: Sequence[object], env: dict[str, str], cwd: Path, log: Path, ready_url: str
                  ) -> Iterator[subprocess.Popen[bytes]]:
    """Run command in its own session until the with-block ends; kill the whole group so no worker outlives it.
    Yields the process (its group id is its pid)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen([str(c) for c in command], env={**os.environ, **env}, cwd=cwd, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode}; {log}:\n{_tail(log)}")
            try:
                if get(ready_url, timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{ready_url} not ready after {READY_TIMEOUT:.0f} s; {log}:\n{_tail(log)}")
            time.sleep(0.25)
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(10)
        with suppress(ProcessLookupError):  # whatever outlived the leader, or the leader if it hung
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _gpkg_copy(dataset: Dataset, folder: Path) -> tuple[Path, str]:
    """A private copy of the dataset's GeoPackage for SQLiteGPKG, and its table name there.

    The provider writes to the file it serves (SpatiaLite's AutoGPKGStart drops and recreates a vgpkg_<table>
    virtual table on every request), so it never gets bench.data's own file; and it pastes the table name into SQL
    unquoted, so a layer whose name is no SQL identifier is rewritten under one."""
    table = re.sub(r"\W", "_", dataset.collection)
    copy = folder / f"{table}.gpkg"
    if not copy.exists() or copy.stat().st_mtime < dataset.gpkg.stat().st_mtime:
        partial = copy.with_suffix(".partial.gpkg")
        partial.unlink(missing_ok=True)
        if table == dataset.collection:
            shutil.copyfile(dataset.gpkg, partial)
        else:
            frame = pyogrio.read_dataframe(dataset.gpkg, layer=dataset.collection)
            pyogrio.write_dataframe(frame, partial, driver="GPKG", layer=table)
        partial.replace(copy)
    return copy, table


def pygeoapi_resource(name: str, bounds: list[float], provider: dict[str, Any]) -> dict[str, Any]:
    """One collection of pygeoapi's configuration, its provider given (GeoJSON, SQLiteGPKG, PostgreSQL)."""
    return {
        "type": "collection", "title": name, "description": f"bench collection {name}", "keywords": [name],
        "extents": {"spatial": {"bbox": bounds, "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
        "providers": [{"type": "feature", "id_field": "id", **provider}],
    }


def _pygeoapi_resources(datasets: dict[str, Dataset], provider: str, folder: Path) -> dict[str, Any]:
    """pygeoapi's collections over the datasets' GeoJSON files or GeoPackages."""
    resources = {}
    for name, dataset in datasets.items():
        if provider == "geojson":
            source = {"name": "GeoJSON", "data": str(dataset.geojson)}
        else:
            gpkg, table = _gpkg_copy(dataset, folder)
            source = {"name": "SQLiteGPKG", "data": str(gpkg), "table": table}
        bounds = [float(b) for b in pyogrio.read_info(dataset.gpkg)["total_bounds"]]
        resources[name] = pygeoapi_resource(name, bounds, source)
    return resources


def pygeoapi_document(port: int, resources: dict[str, Any]) -> dict[str, Any]:
    """pygeoapi's configuration around its collections: limit 10 by default and up to 10000 items a request."""
    url = f"http://127.0.0.1:{port}"
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port}, "url": url,
            "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "languages": ["en-US"],
            "pretty_print": False, "limits": {"default_items": 10, "max_items": 10000},
            "map": {"url": "http://127.0.0.1/{z}/{x}/{y}.png", "attribution": "none"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench peer", "description": "pygeoapi benchmark peer", "keywords": ["bench"],
                               "url": url, "terms_of_service": url},
            "license": {"name": "none", "url": url}, "provider": {"name": "bench"}, "contact": {"name": "bench"},
        },
        "resources": resources,
    }


@contextmanager
def pygeoapi_process(work: Path, folder: Path, resources: dict[str, Any], workers: int, log_name: str
                     ) -> Iterator[str]:
    """pygeoapi's Starlette app under uvicorn with these collections (its configuration and OpenAPI document in
    folder); its URL."""
    python = ensure_pygeoapi(work)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # pygeoapi reads its configuration as YAML, of which JSON is a subset.
    config, openapi = folder / "pygeoapi-config.yml", folder / "pygeoapi-openapi.yml"
    config.write_text(json.dumps(pygeoapi_document(port, resources), indent=1))
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    _run(python.parent / "pygeoapi", "openapi", "generate", config, "--output-file", openapi, env=env, cwd=folder)
    command = [python, "-m", "uvicorn", "pygeoapi.starlette_app:APP", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning"]
    url = f"http://127.0.0.1:{port}"
    with serve_process(command, env, folder, work / "logs" / f"{log_name}.log", f"{url}/collections"):
        yield url


@contextmanager
def pygeoapi_server(work: Path, datasets: dict[str, Dataset], provider: str, workers: int) -> Iterator[Server]:
    """pygeoapi over the GeoJSON files (provider "geojson") or GeoPackages ("gpkg")."""
    labels = {"geojson": "GeoJSON", "gpkg": "GeoPackage"}
    if provider not in labels:
        raise ValueError(f"provider must be one of {sorted(labels)}, not {provider!r}")
    folder = work / "pygeoapi" / provider
    folder.mkdir(parents=True, exist_ok=True)
    with pygeoapi_process(work, folder, _pygeoapi_resources(datasets, provider, folder), workers,
                          f"pygeoapi-{provider}") as url:
        yield Server(f"pygeoapi ({labels[provider]})", url, {name: name for name in datasets})


def _pg_type(values: list) -> str:
    """The column type for a property's values as JSON gives them; lists, objects and mixtures become jsonb."""
    kinds = {type(v) for v in values if v is not None}
    scalars: dict[str, set[type]] = {"text": {str}, "boolean": {bool}, "bigint": {int},
                                     "double precision": {int, float}}
    return next((pg_type for pg_type, allowed in scalars.items() if kinds <= allowed), "jsonb")


def _copy_value(value: object, pg_type: str) -> str:
    """A value in COPY's text format."""
    if value is None:
        return r"\N"
    if pg_type == "boolean":
        return "t" if value else "f"
    text = json.dumps(value, ensure_ascii=False) if pg_type == "jsonb" else str(value)
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def load_sql(table_name: str, geojson: Path) -> str:
    """SQL that creates and fills a table from a GeoJSON file: our ids as primary key, SRID 4326 geometry (hex
    EWKB, null where the feature has none) with a GiST index, one column per property."""
    features = json.loads(geojson.read_text())["features"]
    keys = list(dict.fromkeys(k for f in features for k in f["properties"] if k != "id"))
    types = {k: _pg_type([f["properties"].get(k) for f in features]) for k in keys}
    geometries = [shapely.geometry.shape(f["geometry"]) if f["geometry"] else None for f in features]
    ewkb = shapely.to_wkb(shapely.set_srid(geometries, 4326), hex=True, include_srid=True)
    table = f'"{table_name}"'
    columns = ", ".join(f'"{k}" {types[k]}' for k in keys)
    rows = "".join(
        "\t".join([_copy_value(str(f["id"] if "id" in f else f["properties"]["id"]), "text"),
                   *(_copy_value(f["properties"].get(k), types[k]) for k in keys), wkb or r"\N"]) + "\n"
        for f, wkb in zip(features, ewkb, strict=True))
    quoted = ", ".join(f'"{k}"' for k in keys)
    return (f"CREATE TABLE {table} (id text PRIMARY KEY, {columns}, geom geometry(Geometry, 4326));\n"
            f"COPY {table} (id, {quoted}, geom) FROM stdin;\n{rows}\\.\n"
            f"CREATE INDEX ON {table} USING gist (geom);\nANALYZE {table};\n")


@contextmanager
def postgis(work: Path, datasets: dict[str, Dataset]) -> Iterator[postgres.Cluster]:
    """A throwaway PostgreSQL 15 + PostGIS cluster (bench.postgres) whose database has one table per collection,
    named as the collection (quoted: synthetic-points keeps its dash); its DSN is the cluster's."""
    apt_install(*postgres.PACKAGES)
    with postgres.cluster(work, DATABASE) as running:
        tables = "".join(load_sql(d.collection, d.geojson) for d in datasets.values())
        running.psql("CREATE EXTENSION postgis;\n" + tables)
        yield running


def _spatial_tables(dsn: str) -> list[str]:
    """The public tables with a geometry column, as postgis() made them: one per collection."""
    return _run(postgres.PG_BIN / "psql", "-X", "-At", dsn, "-c",
                "SELECT f_table_name FROM geometry_columns WHERE f_table_schema = 'public' ORDER BY 1").split()


@contextmanager
def tipg_server(work: Path, dsn: str, workers: int) -> Iterator[Server]:
    """tipg under uvicorn over the tables postgis() loaded, and only those; its collection ids are "public.<table>"."""
    python = ensure_tipg(work)
    tables = _spatial_tables(dsn)
    folder = work / "tipg"  # tipg reads any .env in its working folder: run it in one of ours, which has none
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "DATABASE_URL": dsn,
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": json.dumps([f"public.{t}" for t in tables]),
        "TIPG_DB_FUNCTIONS": "[]",  # else PostGIS's own set-returning functions are collections too
        "TIPG_DEFAULT_FEATURES_LIMIT": "10",
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
    }
    command = [python, "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning"]
    with serve_process(command, env, folder, work / "logs" / "tipg.log", f"{url}/collections"):
        yield Server("tipg (PostGIS)", url, {t: f"public.{t}" for t in tables})

