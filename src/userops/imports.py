"""Library imports on a background thread while the engine reads (the CLI's prefetch).

pandas, scipy and scikit-learn take about 1.3 s to import; started on a thread before the
read, they overlap it instead of following it (DuckDB releases the GIL). Code that inspects
the loaded libraries (threadpoolctl, to bound their thread pools) waits for these imports
first: a library being loaded on one thread while another walks the loaded ones can
deadlock (the loader's lock against the GIL).
"""

from __future__ import annotations

import threading

_running: list[threading.Thread] = []


def import_in_background(*modules: str) -> None:
    """Import ``modules`` in order on a daemon thread; the caller imports them as usual
    (Python waits for a module another thread is importing)."""
    import importlib

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # pragma: no cover - the caller's own import will say
                return

    thread = threading.Thread(target=load, name="userops-prefetch", daemon=True)
    _running.append(thread)
    thread.start()


def finish_background_imports() -> None:
    """Wait until every background import has finished."""
    while _running:
        _running.pop().join()
