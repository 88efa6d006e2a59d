"""Processes for `scripts/bench`: run a command whole, time it, and count its CPU.

Every truedigest row of the benchmark is a whole process (start-up included), run
the way a user runs it. `run_cmd` returns the wall time and the child's own CPU
(user + system, from `resource.getrusage(RUSAGE_CHILDREN)` deltas: the child is
reaped by `subprocess.run`, so the delta is its CPU and that of its children).
`CpuWatch` reads the CPU of the processes serving the work while a row runs: the
registry (`/proc/PID/stat` utime + stime), the bench process itself (the latency
proxy and any CP server are threads of it, and its main thread only waits), and
the whole machine (`/proc/stat`), so a reader sees when the machine, not the
client, is the limit.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SUBPROCESS_TIMEOUT = 600.0

T = TypeVar("T")
Json = dict[str, Any]


def truedigest_command() -> list[str]:
    """How users run truedigest: the console script beside this interpreter if it is
    installed (it runs under the same interpreter), else `python -m truedigest`."""
    script = Path(PYTHON).with_name("truedigest")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [PYTHON, "-m", "truedigest"]


TRUEDIGEST = truedigest_command()


def log(text: str) -> None:
    print(f"==> {text}", file=sys.stderr, flush=True)


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else round(a / b, 2)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for truedigest subprocesses: no colour, no CI annotations."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUEDIGEST_")}
    env["NO_COLOR"] = "1"
    for name in ("GITHUB_ACTIONS", "GITEA_ACTIONS", "FORCE_COLOR"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Run:
    """One whole process: wall seconds, its CPU seconds, and what it printed."""

    seconds: float
    cpu: float
    returncode: int
    stdout: str
    stderr: str

    def tail(self, lines: int = 3) -> list[str]:
        return (self.stderr or self.stdout).strip().splitlines()[-lines:]


def run_cmd(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = SUBPROCESS_TIMEOUT,
) -> Run:
    """Run a command to the end (output captured); wall time and the child's CPU."""
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        env=env if env is not None else child_env(),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - start
    return Run(seconds, _children_cpu() - cpu_before, proc.returncode, proc.stdout, proc.stderr)


def run_checked(args: Sequence[str], *, env: dict[str, str] | None = None) -> Run:
    run = run_cmd(args, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])}… exited {run.returncode}: {run.tail()}")
    return run


def tool_version(args: Sequence[str]) -> str | None:
    try:
        proc = subprocess.run(list(args), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0] if text else None


def which(name: str) -> str | None:
    return shutil.which(name)


# --------------------------------------------------------------------------- CPU of servers

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu(pid: int | None) -> float | None:
    """utime + stime of process PID (seconds), from /proc/PID/stat; None if unreadable."""
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / _TICK  # fields 14 and 15 of stat(5)


def machine_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user
    return total - idle, total


class CpuWatch:
    """CPU used by the registry, the bench process (latency proxy, CP servers) and the
    whole machine between `start()` and `stop()`; divide by `runs` for per-run figures."""

    def __init__(self, registry_pid: int | None) -> None:
        self.registry_pid = registry_pid
        self._start: tuple[float | None, float, tuple[int, int] | None] | None = None

    def start(self) -> CpuWatch:
        self._start = (proc_cpu(self.registry_pid), self_cpu(), machine_jiffies())
        return self

    def stop(self, runs: int = 1) -> Json:
        assert self._start is not None
        registry0, self0, machine0 = self._start
        registry1, self1, machine1 = proc_cpu(self.registry_pid), self_cpu(), machine_jiffies()
        runs = max(1, runs)
        out: Json = {
            "registry_cpu_s": (
                None
                if registry0 is None or registry1 is None
                else round((registry1 - registry0) / runs, 3)
            ),
            "proxy_cpu_s": round((self1 - self0) / runs, 3),
        }
        if machine0 is not None and machine1 is not None and machine1[1] > machine0[1]:
            busy = (machine1[0] - machine0[0]) / (machine1[1] - machine0[1])
            out["machine_busy_pct"] = round(100 * busy, 1)
        else:
            out["machine_busy_pct"] = None
        return out


def registry_pid(registry: Any) -> int | None:
    process = getattr(registry, "process", None)
    return None if process is None else int(process.pid)
