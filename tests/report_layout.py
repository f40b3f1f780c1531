"""The example report in a real browser (Chromium via Playwright): what a manager sees on a
screen, on a phone and on paper. Used by tests/test_report.py's browser test and by
docs/make_screenshots.py (the README's pictures).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

#: A4 portrait at 96 px per inch, less the report's @page margins (12 mm sides and top, 14 mm
#: bottom): the width and height one printed page holds.
PRINT_WIDTH_PX = round((210 - 24) / 25.4 * 96)
PRINT_PAGE_HEIGHT_PX = round((297 - 26) / 25.4 * 96)

#: In the page: elements wider than the viewport (outside the boxes that scroll), the font size
#: of every chart's text as drawn, and pairs of chart labels whose boxes overlap.
MEASURE = """() => {
  const vw = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > vw + 1)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''));
  const charts = [...document.querySelectorAll('svg.chart')];
  const fonts = charts.flatMap(svg => [...svg.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * svg.getScreenCTM().a));
  const overlaps = [];
  charts.forEach((svg, c) => {
    const boxes = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, p] = boxes[i], [b, q] = boxes[j];
      if (p.left < q.right - 0.5 && q.left < p.right - 0.5 && p.top < q.bottom - 0.5 && q.top < p.bottom - 0.5) overlaps.push([c, a, b]);
    }
  });
  return {scrollWidth: document.documentElement.scrollWidth, viewport: vw, wide, fonts, overlaps};
}"""

#: In print layout: where each block that may not be split (a chart, a table, the cards) starts
#: and ends, to see where the first page break falls.
BLOCKS = """() => [...document.querySelectorAll('figure, table, .cards, .charts, ul.summary')]
  .map(e => { const r = e.getBoundingClientRect(); return [r.top + window.scrollY, r.bottom + window.scrollY]; })"""


@dataclass
class Look:
    screen: dict  # MEASURE at 1280 px
    phone: dict  # MEASURE at 390 px
    pages: int  # of the A4 PDF
    first_page_filled: float  # share of the first printed page that holds content


def chromium():
    """A headless Chromium (Debian's, or USEROPS_CHROMIUM) launched by Playwright."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=os.environ.get("USEROPS_CHROMIUM", "/usr/bin/chromium"),
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    )
    return playwright, browser


def look(browser, path: str, shots: str | None = None) -> Look:
    """Measure the report at ``path``; with ``shots`` (a folder) also save report_1280.png,
    report_390.png, report_print_page1.png and report.pdf there."""
    measured = {}
    for width in (1280, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"file://{path}")
        measured[width] = page.evaluate(MEASURE)
        if shots:
            page.screenshot(path=os.path.join(shots, f"report_{width}.png"), full_page=True)
        page.close()
    page = browser.new_page(viewport={"width": PRINT_WIDTH_PX, "height": PRINT_PAGE_HEIGHT_PX})
    page.goto(f"file://{path}")
    page.emulate_media(media="print")
    blocks = page.evaluate(BLOCKS)
    if shots:
        page.screenshot(path=os.path.join(shots, "report_print_page1.png"), clip={"x": 0, "y": 0, "width": PRINT_WIDTH_PX, "height": PRINT_PAGE_HEIGHT_PX})
    pdf = page.pdf(format="A4", print_background=True)
    page.close()
    if shots:
        with open(os.path.join(shots, "report.pdf"), "wb") as fh:
            fh.write(pdf)
    # the first block that does not fit on page 1 moves to page 2 whole: page 1 ends above it
    crossing = [top for top, bottom in blocks if top < PRINT_PAGE_HEIGHT_PX < bottom]
    end_of_first = min(crossing) if crossing else PRINT_PAGE_HEIGHT_PX
    return Look(measured[1280], measured[390], pdf_pages(pdf), end_of_first / PRINT_PAGE_HEIGHT_PX)


def pdf_pages(pdf: bytes) -> int:
    """The page count of Chromium's PDF (its page tree's /Count)."""
    counts = [int(n) for n in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)]
    counts += [int(n) for n in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf)]
    return max(counts) if counts else len(re.findall(rb"/Type\s*/Page\b", pdf))
