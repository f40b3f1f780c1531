"""Library imports on a background thread while the engine reads (the CLI's prefetch).

pandas, scipy and scikit-learn take about 1.3 s to import; started on a thread as the long
read begins, they overlap it instead of following it (DuckDB releases the GIL). Code that inspects
the loaded libraries (threadpoolctl, to bound their thread pools) waits for these imports
first: a library being loaded on one thread while another walks the loaded ones can
deadlock (the loader's lock against the GIL).
"""

from __future__ import annotations

import gc
import threading

_running: list[threading.Thread] = []
_queued: list[tuple[str, ...]] = []

#: Set by the command line's entry point: the process ends with the command, so what the
#: libraries make at import can be frozen out of the collector.
freeze_imports = False


def import_in_background(*modules: str) -> None:
    """Import ``modules`` in order on a daemon thread; the caller imports them as usual
    (Python waits for a module another thread is importing).

    With :data:`freeze_imports`, the collector pauses while they load and the objects they
    made are frozen after (:func:`gc.freeze`): they live as long as the process, and full
    collections walked all of them again and again while they loaded."""
    import importlib

    freeze = freeze_imports
    if freeze:
        gc.disable()

    def load() -> None:
        try:
            for name in modules:
                try:
                    importlib.import_module(name)
                except Exception:  # pragma: no cover - the caller's own import will say
                    return
        finally:
            if freeze:
                gc.freeze()
                gc.enable()

    thread = threading.Thread(target=load, name="userops-prefetch", daemon=True)
    _running.append(thread)
    thread.start()


def import_when_reading(*modules: str) -> None:
    """Import ``modules`` in the background once the engine starts its long read
    (:func:`start_queued_imports`). Started before it, the import thread holds the
    interpreter while the many short steps before the read (samples, column detection)
    wait for it, and the read starts 0.1-0.15 s later; started with it, the import overlaps
    only the read, which runs without the interpreter."""
    _queued.append(modules)


def start_queued_imports() -> None:
    """Start the imports queued by :func:`import_when_reading` (called as a long read starts)."""
    while _queued:
        import_in_background(*_queued.pop(0))


def finish_background_imports() -> None:
    """Wait until every background import has finished (queued ones started first)."""
    start_queued_imports()
    while _running:
        _running.pop().join()
