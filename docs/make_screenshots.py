"""The README's pictures of the example report: on a screen (1280 px), on a phone (390 px) and
the first printed A4 page, taken in Chromium like the browser tests take them.

    python docs/make_screenshots.py      # from the repository's root, after `pip install -e '.[test]'`
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from report_layout import chromium, look  # noqa: E402

if __name__ == "__main__":
    docs = os.path.join(ROOT, "docs")
    with tempfile.TemporaryDirectory() as folder:
        report = os.path.join(folder, "report.html")
        subprocess.run(
            [sys.executable, "-m", "userops", "report", "examples/orders.csv", "--events", "examples/events.csv", "-o", report, "-q"],
            check=True, cwd=ROOT,
        )
        playwright, browser = chromium()
        try:
            seen = look(browser, report, folder)
        finally:
            browser.close()
            playwright.stop()
        for name in ("report_1280.png", "report_390.png", "report_print_page1.png"):
            os.replace(os.path.join(folder, name), os.path.join(docs, name))
    print(f"A4 pages: {seen.pages}; first page filled: {seen.first_page_filled:.0%}")
