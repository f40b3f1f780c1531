"""The HTML report: the only jinja2 Environment and the only code that knows where the
templates are (``templates/`` in the source tree, ``userops/templates`` in the wheel).

Autoescape is on for every template and undefined names are errors; charts are inline SVG
(:mod:`userops.render.charts`) and the stylesheet is inlined, so the file makes no network
request and opens offline."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from userops.render import charts
from userops.render import formats as fmt

if TYPE_CHECKING:  # pragma: no cover
    from userops.report.model import Chart, ReportModel

Y_FORMATS = {
    "count": lambda v: fmt.number(v, 0),
    "money": lambda v: fmt.number(v, 0),
    "percent": lambda v: fmt.percent(v, 0),
}


def templates_dir() -> Path:
    installed = Path(__file__).resolve().parent.parent / "templates"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[3] / "templates"  # src/userops/render -> repository root


@lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["chart"] = render_chart
    env.globals["heat_style"] = heat_style
    return env


def render_chart(spec: "Chart"):
    """One chart spec as inline SVG (its text is escaped by :mod:`charts`)."""
    from markupsafe import Markup

    if spec.kind == "bar":
        svg = charts.bar_chart(spec.labels, spec.values, title=spec.title, value_labels=spec.value_labels or None)
    elif spec.kind == "waterfall":
        svg = charts.waterfall_chart(spec.labels, spec.values, title=spec.title, value_labels=spec.value_labels)
    else:
        svg = charts.line_chart(
            spec.x_labels, spec.series, title=spec.title, y_format=Y_FORMATS[spec.y_format], y_max=spec.y_max, step=spec.step, x_days=spec.x_days,
            whole=spec.y_format in ("count", "money"), bands=spec.bands,
        )
    return Markup(svg)


def heat_style(value: float | None):
    """A cell background from 0..1 (blank cells stay white)."""
    from markupsafe import Markup

    if value is None:
        return Markup("")
    alpha = 0.08 + 0.72 * max(0.0, min(1.0, float(value)))
    ink = "#fff" if alpha > 0.55 else "#111827"
    return Markup(f' style="background: rgba(37, 99, 235, {alpha:.2f}); color: {ink}"')


def render_report(model: "ReportModel") -> str:
    from userops.glossary import report_labels as labels

    words = labels(model.lang)
    return environment().get_template("base.html").render(
        report=model, as_of_label=words["as_of"], previous_label=words["previous"], appendix_label=words["appendix"]
    )
