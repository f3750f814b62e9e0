"""Many responses on a Dask cluster: chunks of responses as tasks, one table back.

The data and the formula go to every worker once (``scatter``); each task fits whole
blocks of responses (``ManySpec.block``) exactly as this process would, so the
table is the same as in-process, whatever the number of workers.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..validate import check_client

__all__ = ["fit_on_cluster", "task_chunks"]


def task_chunks(m: int, workers: int, block: int) -> list[np.ndarray]:
    """Contiguous runs of whole blocks, about four per worker."""
    blocks = -(-m // block)
    per_task = max(1, -(-blocks // max(1, 4 * workers)))
    return [np.arange(s * block, min((s + per_task) * block, m))
            for s in range(0, blocks, per_task)]


def _fit_chunk(spec, Y, names, unusable):
    """One task: the table of these responses, and the worker that made it."""
    from distributed import get_worker

    from .fits import fit_table
    table, coef_names, theta_names, opts = fit_table(spec, Y, names, unusable, 1, False)
    return table, coef_names, theta_names, opts, get_worker().address


def fit_on_cluster(client, spec, Y: np.ndarray, names: list, unusable: dict,
                   progress: bool):
    """The table of every response, fitted in chunks on the client's workers."""
    from distributed import as_completed

    workers = check_client(client)
    spec_future = client.scatter(spec, broadcast=True)
    futures = {}
    for c, cols in enumerate(task_chunks(len(names), workers, spec.block)):
        chunk_names = [names[j] for j in cols]
        chunk_unusable = {nm: unusable[nm] for nm in chunk_names if nm in unusable}
        fut = client.submit(_fit_chunk, spec_future, Y[:, cols], chunk_names,
                            chunk_unusable, pure=False)
        futures[fut] = c
    parts: dict[int, tuple] = {}
    what = "lmer_many" if spec.family is None else "glmer_many"
    with tqdm(total=len(names), desc=what, unit="response", file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar:
        for fut in as_completed(list(futures)):
            parts[futures[fut]] = fut.result()
            bar.update(len(parts[futures[fut]][0]))
    ordered = [parts[c] for c in range(len(parts))]
    table = pd.concat([p[0] for p in ordered])
    table.attrs["workers"] = [p[4] for p in ordered]
    opts = None if ordered[0][3] is None else [o for p in ordered for o in p[3]]
    return table, ordered[0][1], ordered[0][2], opts
