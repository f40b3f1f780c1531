"""How many threads the model libraries use: OpenMP (scikit-learn's gradient boosting) and
BLAS (numpy and scipy), bounded while churn's models run beside each other and beside the
engine.

The libraries' pools are found once, by walking the loaded shared libraries. That walk must
not overlap a library being loaded on another thread (the loader's lock against the GIL
deadlocks), so :func:`thread_pools` first waits for the CLI's background imports; a caller
that starts model threads next to other work calls it on its own thread first.
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from threadpoolctl import ThreadpoolController


@functools.cache
def thread_pools() -> "ThreadpoolController":
    """The thread pools of the loaded libraries, the classifiers' OpenMP runtime among them."""
    import sklearn.ensemble  # noqa: F401 (loads the OpenMP runtime the classifiers use)
    from threadpoolctl import ThreadpoolController

    from userops.imports import finish_background_imports

    finish_background_imports()
    return ThreadpoolController()


@contextlib.contextmanager
def limited(*, openmp: int | None = None, blas: int | None = None):
    """At most ``openmp`` OpenMP threads for what this thread runs (the setting is per
    thread) and at most ``blas`` BLAS threads for everyone (the setting is global); None
    leaves a pool as it is."""
    pools = thread_pools()
    with contextlib.ExitStack() as stack:
        if openmp is not None:
            stack.enter_context(pools.limit(limits=openmp, user_api="openmp"))
        if blas is not None:
            stack.enter_context(pools.limit(limits=blas, user_api="blas"))
        yield
