"""Peak memory of benchmark processes.

Two measurements, both resident set size (RSS, MB = 2**20 bytes):

* ``fit peak``: the process's high-water RSS while it fits. On Linux the process resets its
  high-water mark (``echo 5 > /proc/self/clear_refs``) after loading the data and just
  before the fits, and reads ``VmHWM`` afterwards. The figure therefore includes what was
  already resident (interpreter, libraries, the data frame): that baseline is reported too.
* ``process max``: the whole process's high-water RSS, start-up and reading the CSV
  included: the larger of ``VmHWM`` just before the reset and the fit peak
  (``process_peak_mb``). Where ``/proc`` is missing, ``ru_maxrss`` of the child from
  ``os.wait4`` (``maxrss_mb``) stands in; it is an upper bound only, since Linux carries the
  parent's RSS at spawning time (vfork + exec) into the child's ``ru_maxrss``.

The R process uses the same /proc files (see ``r_side.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile


def proc_status_mb() -> dict:
    """``{"rss": VmRSS, "hwm": VmHWM}`` in MB from /proc/self/status, or {} if unavailable."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key[2:].lower()] = int(value.split()[0]) / 1024  # kB -> MB
    return out


def reset_peak() -> bool:
    """Reset this process's RSS high-water mark (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class PeakMeter:
    """RSS of this process around a block of fits (see the module docstring).

    Created after the libraries and the data are loaded: it notes the RSS (``base_mb``) and
    the high-water mark so far, then resets the mark. :meth:`result` reads the mark again.
    """

    def __init__(self) -> None:
        status = proc_status_mb()
        self.base, self.load_peak = status.get("rss"), status.get("hwm")
        self.was_reset = reset_peak()

    def result(self) -> dict:
        """``base_mb``, ``peak_mb`` (if the mark could be reset) and ``process_peak_mb``."""
        hwm = proc_status_mb().get("hwm")
        out = {"base_mb": self.base}
        if self.was_reset:
            out["peak_mb"] = hwm
        peaks = [v for v in (self.load_peak, hwm) if v is not None]
        if peaks:
            out["process_peak_mb"] = max(peaks)
        return out


def run_measured(cmd: list[str], cwd=None) -> tuple[int, str, str, float]:
    """Run ``cmd``; return (returncode, stdout, stderr, max RSS of the child in MB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=cwd)
        try:
            # os.wait4 rather than proc.wait(): it returns the child's own resource usage.
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        # ru_maxrss is in kB on Linux, in bytes on macOS.
        scale = 2**20 if sys.platform == "darwin" else 2**10
        return proc.returncode, out.read(), err.read(), usage.ru_maxrss / scale


def bench_results(out: str, err: str, code: int, names: list[str], maxrss: float | None,
                  what: str) -> dict[str, dict]:
    """A child process's ``BENCH {json}`` lines by case name, with its peak memory when
    measured; a case without a line gets the child's exit status and last error line."""
    results = {}
    for line in out.splitlines():
        if line.startswith("BENCH "):
            result = json.loads(line[len("BENCH "):])
            if maxrss is not None:
                result["maxrss_mb"] = maxrss
            results[result.pop("name")] = result
    for name in names:
        if name not in results:
            tail = (err.strip().splitlines() or ["no output"])[-1]
            results[name] = {"error": f"{what} exited with {code}: {tail}"}
    return results
