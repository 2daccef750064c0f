"""A throwaway PostgreSQL 15 + PostGIS cluster on 127.0.0.1 and a free port, for the benchmark's tipg and our
PostGIS-backed service, and for the tests of the PostGIS store.

PostgreSQL will not run as root, so as root initdb and the server run as the postgres user, with trust
authentication (loopback only) and the unix socket inside the cluster folder, which is removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
PACKAGES = ("postgresql-15", "postgresql-15-postgis-3")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


class Cluster:
    """A cluster in `folder`: start, stop, kill -9 and start again on the same port, run SQL."""

    def __init__(self, folder: Path, database: str) -> None:
        self.folder, self.database = folder, database
        self.data, self.log, self.port = folder / "data", folder / "postgres.log", _free_port()
        self.as_user = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []
        self.dsn = f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"
        self._databases = 0
        self._server: subprocess.Popen[bytes] | None = None

    def _run(self, *args: object, input: str | None = None) -> str:
        done = subprocess.run([*self.as_user, *map(str, args)], input=input, cwd=self.folder, capture_output=True,
                              text=True)
        if done.returncode != 0:
            said = "\n".join((done.stderr or done.stdout).splitlines()[-20:])
            raise RuntimeError(f"{args[0]} exited with {done.returncode}:\n{said}\n{self.log}:\n{_tail(self.log)}")
        return done.stdout

    def create(self) -> None:
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        self.start()
        self.psql(f"CREATE DATABASE {self.database}", database="postgres")

    def start(self) -> None:
        """Run the server as a child of this process (not daemonised by pg_ctl), so that after a kill -9 it is
        reaped here: where PID 1 reaps no orphans, a zombie postmaster would hold the lock file forever."""
        options = ["-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
                   "-c", f"unix_socket_directories={self.folder}"]
        with self.log.open("ab") as log:
            self._server = subprocess.Popen([*self.as_user, str(PG_BIN / "postgres"), "-D", str(self.data), *options],
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=self.folder)
        deadline = time.monotonic() + 60
        while subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", str(self.folder), "-p", str(self.port)]
                             ).returncode != 0:
            if self._server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start; {self.log}:\n{_tail(self.log)}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._server is None or self._server.poll() is not None:
            return
        subprocess.run([*self.as_user, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        try:
            self._server.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9 of the postmaster and every backend, as a crash would; start() recovers the cluster.

        The postmaster is stopped first, so that it forks no backend between the listing of its children and
        their killing: a backend that escaped kept the shared memory, and the restart failed ("pre-existing
        shared memory block is still in use"), once on a busy CI machine. Returns when every one has exited."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
        children = [int(c) for c in
                    subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
        for target in (*children, pid):
            with suppress(ProcessLookupError):
                os.kill(target, signal.SIGKILL)
        if self._server is not None:
            with suppress(ProcessLookupError):  # runuser stops itself when its child stops: let it see the exit
                os.kill(self._server.pid, signal.SIGCONT)
            self._server.wait(30)
        deadline = time.monotonic() + 30
        while any(_running(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.02)

    def new_database(self) -> str:
        """A new empty database; its URL."""
        self._databases += 1
        name = f"{self.database}_{self._databases}"
        self.psql(f"CREATE DATABASE {name}", database="postgres")
        return self.dsn.rsplit("/", 1)[0] + f"/{name}"

    def psql(self, sql: str, database: str | None = None) -> str:
        return self._run(PG_BIN / "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.folder,
                         "-p", self.port, "-U", PG_USER, "-d", database or self.database, "-f", "-", input=sql)


@contextmanager
def cluster(parent: Path | None = None, database: str = "nbgis") -> Iterator[Cluster]:
    """A running cluster with an empty database, stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="postgis-", dir=parent))
    if os.geteuid() == 0:
        shutil.chown(folder, PG_USER, PG_USER)
    running = Cluster(folder, database)
    try:
        running.create()
        yield running
    finally:
        running.stop()
        shutil.rmtree(folder, ignore_errors=True)


def available() -> bool:
    """Whether this machine has PostgreSQL 15 and PostGIS 3 (the tests skip the PostGIS store without them)."""
    return (PG_BIN / "initdb").exists() and any(
        Path("/usr/share/postgresql/15/extension").glob("postgis--3*.sql"))


def _running(pid: int) -> bool:
    """Whether a process exists and has not exited (a zombie has let go of its memory)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
