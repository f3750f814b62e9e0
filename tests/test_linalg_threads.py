"""The shared one-BLAS-thread limit: entered again from worker threads (bootMer's), it is
lifted only when the last holder leaves, and then to the count there was before."""

import threading

from threadpoolctl import threadpool_info

from pylmer.linalg.threads import single_threaded_blas


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_limit_outlives_workers_and_is_lifted_by_the_last_holder():
    before = blas_threads()

    def worker():
        with single_threaded_blas():
            pass

    with single_threaded_blas():
        assert blas_threads() == [1] * len(before)
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert blas_threads() == [1] * len(before)  # the workers left; the limit holds
    assert blas_threads() == before


def test_disabled_limit_changes_nothing():
    before = blas_threads()
    with single_threaded_blas(enabled=False):
        assert blas_threads() == before
