"""One BLAS thread per caller in the serving process.

The score batcher's lanes run `Scorer.score` in threads side by side (scoring/batcher.py),
and each calls numpy's matrix product (the contributions grouped into reasons). OpenBLAS
would then start its own threads for every call, on the same two cores, and they spin
waiting for each other: under a 1,000-customer request that one product took a third of
the scorer's time, for a few hundred microseconds of arithmetic. With one BLAS thread each
call runs in the thread that made it, and the lanes are the parallelism. OpenBLAS splits a
product between its threads by rows and columns of the result, never along the sum, so
every score is the same number either way (tests/unit/ml/test_scorer.py).
"""

from threadpoolctl import threadpool_limits


def one_blas_thread() -> None:
    """For the whole process, from now on (training sets its own limit around its fits)."""
    threadpool_limits(limits=1, user_api="blas")
