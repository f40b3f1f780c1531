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
