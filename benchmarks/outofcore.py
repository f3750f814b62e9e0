"""Out-of-core fits (lmer of a Dask DataFrame) against the same fit in memory.

Usage::

    python -m benchmarks.outofcore [--n 2e6] [--partitions 20] [--ooc-only]
                                   [--scheduler threads|distributed] [--dir DIR] [--json FILE]

Writes a partitioned parquet data set of ``--n`` rows (``--partitions`` files, default
``max(20, n / 1e5)``) into a temporary directory (or ``--dir``, kept): ``y = 1 + 0.5 x +
a[f1] + b[f2] + e``, x ~ N(0, 1), f1 uniform over 1e4 levels with a ~ N(0, 0.8^2), f2
uniform over 1e3 levels with b ~ N(0, 0.5^2), e ~ N(0, 1) (fixed seed; f1 and f2 are
integer ids). Then, each in a fresh subprocess:

* out of core: ``pylmer.lmer("y ~ x + (1 | f1) + (1 | f2)", dask.dataframe.read_parquet(dir))``
  on dask's local threaded scheduler (``--scheduler distributed``: a ``LocalCluster`` of
  two single-threaded worker processes, the client's memory measured alone);
* in memory: ``pandas.read_parquet(dir)``, then ``pylmer.lmer(...)`` (skipped with
  ``--ooc-only``).

Reported: the time (reading included), the REML criterion, fixed effects and theta of
both and their differences, and the client process's memory growth: ``VmHWM`` (peak RSS)
minus ``VmRSS`` just before reading, from /proc/self/status (the high-water mark is reset
there, Linux's ``clear_refs``). For the in-memory fit the growth after the data are loaded
(the fit alone) is given too. The targets checked: equal estimates (REML criterion to a
relative 1e-10, fixed effects to 1e-8, theta to an absolute 1e-6) and an out-of-core
growth under half the in-memory one. Not part of ``make test`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

FORMULA = "y ~ x + (1 | f1) + (1 | f2)"
N_F1, N_F2 = 10_000, 1_000
SEED = 20260801


def write_data(path: str, n: int, partitions: int) -> None:
    """The data set, one parquet file per partition (generated partition by partition)."""
    import pandas as pd

    rng = np.random.default_rng(SEED)
    a = rng.normal(0.0, 0.8, N_F1)
    b = rng.normal(0.0, 0.5, N_F2)
    os.makedirs(path, exist_ok=True)
    bounds = np.linspace(0, n, partitions + 1).astype(np.int64)
    for k in range(partitions):
        m = int(bounds[k + 1] - bounds[k])
        f1 = rng.integers(0, N_F1, m)
        f2 = rng.integers(0, N_F2, m)
        x = rng.standard_normal(m)
        y = 1.0 + 0.5 * x + a[f1] + b[f2] + rng.standard_normal(m)
        frame = pd.DataFrame({"y": y, "x": x, "f1": f1, "f2": f2})
        frame.to_parquet(os.path.join(path, f"part.{k:04d}.parquet"), index=False)


def _status() -> dict:
    with open("/proc/self/status", encoding="ascii") as fh:
        out = {}
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024  # MB
        return out


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")


def child(kind: str, path: str, scheduler: str) -> dict:
    """One fit in this (fresh) process; its numbers as a dict."""
    import warnings

    import pandas as pd

    import pylmer

    warnings.simplefilter("ignore")
    out: dict = {"kind": kind}
    cluster = client = None
    if kind == "outofcore":
        import dask.dataframe as dd

        if scheduler == "distributed":
            from distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
    before = _status()["VmRSS"]
    _reset_peak()
    start = time.perf_counter()
    if kind == "outofcore":
        data = dd.read_parquet(path)
        out["npartitions"] = data.npartitions
    else:
        data = pd.read_parquet(path)
        loaded = _status()
        out["load_seconds"] = time.perf_counter() - start
        out["load_growth_mb"] = loaded["VmHWM"] - before
        after_load = loaded["VmRSS"]
        _reset_peak()
    m = pylmer.lmer(FORMULA, data)
    out["seconds"] = time.perf_counter() - start
    peak = _status()["VmHWM"]
    if kind == "outofcore":
        out["growth_mb"] = peak - before
    else:
        out["fit_growth_mb"] = peak - after_load
        out["growth_mb"] = max(peak, before + out["load_growth_mb"]) - before
    out.update(rss_before_mb=before, nobs=m.nobs(), REMLcrit=m.REMLcrit(),
               fixef=m.fixef().tolist(), theta=m.theta.tolist(),
               feval=int(m.optinfo.feval))
    if client is not None:
        client.close()
        cluster.close()
    return out


def _run_child(kind: str, path: str, scheduler: str) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.outofcore", "--child", kind, "--dir", path,
           "--scheduler", scheduler]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if proc.returncode != 0:
        raise RuntimeError(f"the {kind} fit failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(ooc: dict, mem: dict) -> dict:
    """The differences and whether the targets are met."""
    fo, fm = np.array(ooc["fixef"]), np.array(mem["fixef"])
    out = {
        "REML_rel_diff": abs(ooc["REMLcrit"] - mem["REMLcrit"]) / abs(mem["REMLcrit"]),
        "fixef_max_rel_diff": float(np.max(np.abs(fo - fm) / np.abs(fm))),
        "theta_max_abs_diff": float(np.max(np.abs(np.array(ooc["theta"])
                                                  - np.array(mem["theta"])))),
        "growth_ratio": ooc["growth_mb"] / mem["growth_mb"],
    }
    out["equal"] = bool(out["REML_rel_diff"] <= 1e-10 and out["fixef_max_rel_diff"] <= 1e-8
                        and out["theta_max_abs_diff"] <= 1e-6)
    out["memory_target_met"] = bool(out["growth_ratio"] < 0.5)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.outofcore",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=float, default=2e6, help="rows (default 2e6)")
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--ooc-only", action="store_true", help="skip the in-memory fit")
    parser.add_argument("--scheduler", choices=("threads", "distributed"), default="threads")
    parser.add_argument("--dir", default=None, help="write the data here (kept)")
    parser.add_argument("--json", default=None, help="write the results to this file")
    parser.add_argument("--child", choices=("outofcore", "inmemory"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.dir, args.scheduler)))
        return 0
    n = int(args.n)
    partitions = args.partitions or max(20, n // 100_000)
    path = args.dir or tempfile.mkdtemp(prefix="pylmer-outofcore-")
    try:
        start = time.perf_counter()
        write_data(path, n, partitions)
        print(f"data: {n} rows in {partitions} parquet files ({time.perf_counter() - start:.1f} s"
              f" to write), {FORMULA}")
        results = {"n": n, "partitions": partitions, "scheduler": args.scheduler,
                   "outofcore": _run_child("outofcore", path, args.scheduler)}
        if not args.ooc_only:
            results["inmemory"] = _run_child("inmemory", path, args.scheduler)
            results["comparison"] = compare(results["outofcore"], results["inmemory"])
    finally:
        if args.dir is None:
            shutil.rmtree(path, ignore_errors=True)
    for kind in ("outofcore", "inmemory"):
        if kind in results:
            r = results[kind]
            extra = (f", fit alone {r['fit_growth_mb']:.0f} MB (load {r['load_seconds']:.1f} s)"
                     if kind == "inmemory" else f", {r['npartitions']} partitions")
            print(f"{kind:>10}: {r['seconds']:7.1f} s, memory growth {r['growth_mb']:7.0f} MB"
                  f"{extra}; REML {r['REMLcrit']:.6f}, fixef {r['fixef']}, theta {r['theta']}"
                  f", {r['feval']} evaluations")
    if "comparison" in results:
        c = results["comparison"]
        print(f"differences: REML criterion {c['REML_rel_diff']:.1e} (relative), fixed "
              f"effects {c['fixef_max_rel_diff']:.1e} (relative), theta "
              f"{c['theta_max_abs_diff']:.1e} (absolute): "
              f"{'equal' if c['equal'] else 'NOT EQUAL'} at 1e-10 / 1e-8 / 1e-6")
        print(f"memory growth out of core / in memory: {c['growth_ratio']:.2f} "
              f"({'under' if c['memory_target_met'] else 'NOT under'} one half)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
