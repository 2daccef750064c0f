"""The load generator: wrk (Debian's package), a separate C process, at a fixed duration and concurrency.

A Lua ``done`` hook prints wrk's own counts as one JSON line, so nothing is scraped from its report.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.peers import ACCEPT, ensure_command

REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non_2xx": %d, ' ..
                         '"socket_errors": %d}\\n', summary.requests, summary.duration, latency:percentile(50),
                         latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class Load:
    requests: int  # responses received, failed ones included
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int  # responses other than 2xx/3xx
    socket_errors: int  # timeouts included

    @property
    def rate(self) -> float:
        """Successful responses per second: a server answering 500 quickly is not fast."""
        return (self.requests - self.failed) / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.failed + self.socket_errors


def run_wrk(url: str, work: Path, seconds: int, connections: int, headers: tuple[str, ...] = ()) -> Load:
    """One run of wrk on one thread against url (with any extra `headers`, "Name: value"); a 60 s timeout, so a
    slow server is slow, not failed."""
    script = work / "wrk-report.lua"
    if not script.exists():
        script.write_text(REPORT_LUA)
    done = subprocess.run(
        [ensure_command("wrk"), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s",
         "-H", f"Accept: {ACCEPT}", *[arg for h in headers for arg in ("-H", h)], "-s", str(script), url],
        capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # With no request completed wrk reports latency 0; the run's length is then the only bound we know.
    p50, p99 = (result["p50_us"] / 1e3, result["p99_us"] / 1e3) if result["requests"] else (seconds * 1e3,) * 2
    return Load(result["requests"], result["duration_us"] / 1e6, p50, p99, result["non_2xx"], result["socket_errors"])


def combine(runs: list[Load]) -> Load:
    """Several runs of one case as one: requests over total time, mean median, worst p99, all errors."""
    return Load(sum(r.requests for r in runs), sum(r.seconds for r in runs), sum(r.p50_ms for r in runs) / len(runs),
                max(r.p99_ms for r in runs), sum(r.failed for r in runs), sum(r.socket_errors for r in runs))
