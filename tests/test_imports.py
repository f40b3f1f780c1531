"""The command line's background imports."""

from __future__ import annotations

import gc

from userops import imports


def test_background_imports_freeze_what_they_made_when_the_process_is_one_command(monkeypatch):
    monkeypatch.setattr(imports, "freeze_imports", True)
    gc.unfreeze()
    try:
        imports.import_in_background("json", "no_such_module_here", "csv")
        imports.finish_background_imports()
        # collection is back on (after a failed import too) and the import's objects frozen
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()


def test_library_callers_keep_the_collector_as_it_is(monkeypatch):
    monkeypatch.setattr(imports, "freeze_imports", False)
    gc.unfreeze()
    imports.import_in_background("json")
    imports.finish_background_imports()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_imports_queued_for_the_read_start_with_it(monkeypatch):
    """The CLI queues its imports; the load starts them as its long read begins, and waiting
    for the imports starts any still queued (a command that never read)."""
    monkeypatch.setattr(imports, "freeze_imports", False)
    started: list[tuple[str, ...]] = []
    monkeypatch.setattr(imports, "import_in_background", lambda *modules: started.append(modules))
    imports.import_when_reading("json")
    imports.import_when_reading("csv", "decimal")
    assert started == []
    imports.start_queued_imports()
    assert started == [("json",), ("csv", "decimal")]
    imports.import_when_reading("fractions")
    imports.finish_background_imports()
    assert started[-1] == ("fractions",)


def test_loading_orders_starts_the_queued_imports(monkeypatch, small_orders):
    from userops.io.normalise import load_orders

    started: list[tuple[str, ...]] = []
    monkeypatch.setattr(imports, "import_in_background", lambda *modules: started.append(modules))
    imports.import_when_reading("json")
    load_orders([small_orders])
    assert started == [("json",)]
