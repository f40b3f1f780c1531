"""The report's view-model: every number comes from the library functions the commands use
(``profile``, ``segment``, ``retention``, ``funnel``, ``churn``); this module only picks what
the report shows and formats it for display. Templates get strings and chart specs, never
frames, and compute nothing.

A section whose data is absent (no events file, too few customers for a model) is left out
with a one-line reason in ``skipped``; it never stops the report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from userops import __version__
from userops.analytics.periods import last_complete_period
from userops.errors import DataError, UsageError
from userops.glossary import count, in_language, name, say
from userops.glossary import report_labels as labels
from userops.render import formats as fmt
from userops.scan import customers as scan_customers

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from userops.analytics.churn import ChurnResult, ChurnRun
    from userops.analytics.promotions import Promotion
    from userops.io.normalise import LoadedEvents, LoadedOrders
    from userops.scan.window import Window

REPORT_PERIODS = ("week", "month")
TREND_PERIODS = {"week": 26, "month": 18}  # complete periods shown in the trend charts
RETENTION_COHORTS = 12
TOP_AT_RISK = 15
FUNNEL_STEPS_INFERRED = 5
SURVIVAL_POINTS = 120
LTV_MONTHS = 12  # months after the first purchase on the LTV curves
LTV_LINES = 6  # channels (by customers) or cohorts (latest) drawn
LTV_TABLE_MONTHS = (1, 3, 6, 12)  # cumulative value after this many months, in the table


@dataclass
class Kpi:
    key: str
    label: str
    value: str
    previous: str
    change: str  # "+12.3%" or "+1.2 pp"; "" when there is nothing to compare
    direction: str  # up, down, flat or ""


@dataclass
class Chart:
    kind: str  # line | bar | waterfall (labels and values: the first and last totals, steps between)
    title: str
    x_labels: list[str] = field(default_factory=list)
    series: list[tuple[str, list[float | None]]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    value_labels: list[str] = field(default_factory=list)
    y_format: str = "count"  # count | money | percent
    y_max: float | None = None
    step: bool = False
    x_days: bool = False  # x labels are whole days: placed by value, ticks on a round step
    bands: list[tuple[int, int, str]] = field(default_factory=list)  # shaded x positions first..last, named (promotions)


@dataclass
class TableView:
    columns: list[str]
    numeric: list[bool]
    rows: list[list[str]]
    heat: list[list[float | None]] | None = None  # 0..1 per cell for a heatmap; None = plain


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    charts: list[Chart] = field(default_factory=list)
    tables: list[TableView] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ReportModel:
    title: str
    lang: str
    as_of: str
    kpi_title: str
    kpi_intro: str
    kpis: list[Kpi]
    sections: list[Section]
    skipped: list[str]
    quality: list[tuple[str, str]]
    provenance: str
    skipped_title: str
    quality_title: str
    #: what was left out, in plain words (the technical detail is ``quality``, an appendix)
    quality_summary: list[str] = field(default_factory=list)
    #: what changed, in a sentence each from the key figures, the segments and the funnel
    summary: list[str] = field(default_factory=list)
    summary_title: str = ""
    #: what the command line says as warnings (also among the notes of the report)
    warnings: list[str] = field(default_factory=list)


def _change(current, previous, *, rate: bool) -> tuple[str, str]:
    if fmt.is_missing(current) or fmt.is_missing(previous):
        return "", ""
    delta = float(current) - float(previous)
    direction = "up" if delta > 0 else "down" if delta < 0 else "flat"
    if rate:
        return f"{delta * 100:+.1f} pp", direction
    if float(previous) == 0:
        return "", direction
    return f"{delta / float(previous) * 100:+.1f}%", direction


def _pick(frame, n: int):
    return frame.iloc[-n:] if len(frame) > n else frame


class _Builder:
    def __init__(
        self, loaded: "LoadedOrders", window: "Window", *, lang: str, period: str, actions: dict[str, str] | None,
        promotions: "tuple[Promotion, ...] | None" = None,
    ):
        self.loaded, self.window, self.lang, self.period = loaded, window, lang, period
        self.promotions = promotions
        self.t = labels(lang)
        self.actions = actions
        self.sections: list[Section] = []
        self.skipped: list[str] = []
        self.notes: list[str] = []
        self.highlights: dict[str, str] = {}  # section -> one sentence of what it says, for the top
        self.warnings: list[str] = []  # also notes; the command line repeats them as warnings
        self.period_word = self.t[f"period_{period}"]

    def attempt(self, title: str, build) -> None:
        """Run one section; a DataError/UsageError leaves it out with its one-line reason."""
        section = self.guarded(title, build)
        if section is not None:
            self.sections.append(section)

    def guarded(self, title: str, compute):
        """``compute()``, or None after a DataError/UsageError (the section ``title`` is then
        left out with its one-line reason)."""
        try:
            return compute()
        except (DataError, UsageError) as exc:
            self.skipped.append(f"{title}: {exc.message}")
            return None

    # --- KPIs -----------------------------------------------------------------------------
    def kpis(self) -> tuple[list[Kpi], str]:
        from userops.analytics.profile import window_kpis

        start, end = last_complete_period(self.window.as_of, self.period)
        prev_start, prev_end = last_complete_period(start - dt.timedelta(days=1), self.period)
        floor = self.window.start.date() if self.window.start else None
        compared = self.loaded.first_ts is None or prev_end >= self.loaded.first_ts.date()
        # per period: its own KPIs and those from the start to its end (customers, repeat rate)
        periods = [(start, end)] + ([(prev_start, prev_end)] if compared else [])
        windows = [w for first, last in periods
                   for w in (self.loaded.window(last, start=max(first, floor) if floor else first), self.loaded.window(last, start=floor))]
        kpis = window_kpis(self.loaded, windows)  # one pass; the cards show no gaps between orders

        def figures(period_kpis, to_date):
            return {
                "customers": to_date.customers, "active_customers": period_kpis.customers, "orders": period_kpis.orders,
                "revenue": period_kpis.revenue, "aov": period_kpis.aov, "repeat_rate": to_date.repeat_rate,
            }

        now = figures(kpis[0], kpis[1])
        before = figures(kpis[2], kpis[3]) if compared else {}
        shown = {"customers": fmt.integer, "active_customers": fmt.integer, "orders": fmt.integer, "revenue": fmt.money, "aov": fmt.money, "repeat_rate": fmt.percent}
        cards = []
        for key, display in shown.items():
            change, direction = _change(now[key], before.get(key), rate=key == "repeat_rate")
            cards.append(Kpi(key, self.t[f"kpi_{key}"], display(now[key]) or "—", display(before.get(key)), change, direction))
        intro = self.t["kpis_intro"].format(period=self.period_word, start=start, end=end, prev_start=prev_start, prev_end=prev_end)
        if not fmt.is_missing(now["revenue"]):
            revenue_change = _change(now["revenue"], before.get("revenue"), rate=False)[0]
            active_change = _change(now["active_customers"], before.get("active_customers"), rate=False)[0]
            key = "summary_kpis" if revenue_change and active_change else "summary_kpis_alone"
            self.highlights["kpis"] = self.t[key].format(
                period=self.period_word, start=start, end=end, revenue=fmt.money(now["revenue"]), revenue_change=revenue_change,
                active=fmt.integer(now["active_customers"]), active_change=active_change,
            )
        last = self.loaded.last_ts.date() if self.loaded.last_ts else None
        if last is not None and last < start:
            stale = self.t["stale_data"].format(last=last, days=(self.window.as_of - last).days)
            intro = f"{intro} {stale}"
            self.notes.append(stale)
        return cards, intro

    # --- sections -------------------------------------------------------------------------
    def trends(self) -> Section:
        from userops.analytics.profile import period_activity

        table = period_activity(scan_customers.period_aggregates(self.loaded, self.window, period=self.period), as_of=self.window.as_of, period=self.period)
        table = _pick(table[table["complete"]], TREND_PERIODS[self.period])
        if table.empty:
            raise DataError(f"no complete {self.period} yet")
        from userops.analytics.promotions import period_bands

        x = [fmt.date(p) for p in table["period"]]
        bands = period_bands(list(table["period"]), self.period, self.promotions)  # the promotions shaded
        charts = [
            Chart("line", self.t["trend_active"].format(period=self.period_word), x_labels=x,
                  series=[(self.t["kpi_active_customers"], [float(v) for v in table["active_customers"]])], bands=bands),
        ]
        if self.loaded.facts.has_amount:  # without amounts a revenue line would be drawn flat at 0
            charts.insert(0, Chart("line", self.t["trend_revenue"].format(period=self.period_word), x_labels=x,
                                   series=[(self.t["kpi_revenue"], [float(v) for v in table["revenue"].fillna(0)])], y_format="money", bands=bands))
        return Section("trends", self.t["trends"], charts=charts)

    def bridge(self) -> Section:
        """Where the last complete period's revenue change came from: the revenue bridge's
        row for it, as a waterfall from the period before to this one."""
        from userops.analytics.bridge import revenue_bridge

        table = revenue_bridge(self.loaded, self.window, period=self.period).table
        start, _ = last_complete_period(self.window.as_of, self.period)
        rows = table[table["period"] == start]
        if rows.empty or float(rows["previous_revenue"].iloc[0]) == 0.0:
            raise DataError(f"no complete {self.period} with one before it")
        row = rows.iloc[0]
        t = self.t
        keys = ("previous", "new", "reactivated", "expansion", "contraction", "lost", "current")
        values = [float(row["previous_revenue"]), *(float(row[k]) for k in ("new", "reactivated", "expansion", "contraction", "lost")), float(row["revenue"])]
        labels = [t[f"bridge_{k}"].format(period=self.period_word) for k in keys]
        shown = [fmt.money(v) if i in (0, len(values) - 1) else f"{'+' if v >= 0 else '−'}{fmt.money(abs(v))}" for i, v in enumerate(values)]
        chart = Chart("waterfall", t["bridge_chart"].format(period=self.period_word, start=fmt.date(start)), labels=labels, values=values, value_labels=shown)
        intro = t["bridge_intro"].format(
            period=self.period_word, start=fmt.date(start), change=f"{'+' if row['change'] >= 0 else '−'}{fmt.money(abs(float(row['change'])))}",
            new=fmt.money(float(row["new"])), new_customers=fmt.integer(int(row["new_customers"])),
            lost=fmt.money(abs(float(row["lost"]))), lost_customers=fmt.integer(int(row["lost_customers"])),
        )
        return Section("bridge", t["bridge"], intro, charts=[chart])

    def segments(self) -> Section:
        from userops.analytics.segment import segment_customers

        # the Chinese 8 classes need amounts; without them the R×F grid, in Chinese too
        scheme = "cn8" if self.lang == "zh" and self.loaded.facts.has_amount else "rfm10"
        result = segment_customers(self.loaded, self.window, scheme=scheme, lang=self.lang, actions=self.actions)
        self.notes.extend(result.notes)
        summary = result.summary[result.summary["customers"] > 0]
        t = self.t
        table = TableView(
            [t["col_segment"], t["col_customers"], t["col_share"], t["col_revenue"], t["col_revenue_share"], t["col_action"]],
            [False, True, True, True, True, False],
            [[fmt.text(r.segment), fmt.integer(r.customers), fmt.percent(r.share), fmt.money(r.revenue), fmt.percent(r.revenue_share), fmt.text(r.action)]
             for r in summary.itertuples(index=False)],
        )
        if len(summary):
            largest = summary.loc[summary["customers"].idxmax()]
            richest = summary.loc[summary["revenue_share"].idxmax()] if summary["revenue_share"].notna().any() else None
            if richest is not None:
                self.highlights["segments"] = t["summary_segments"].format(
                    largest=largest["segment"], customers=fmt.integer(largest["customers"]), share=fmt.percent(largest["share"]),
                    richest=richest["segment"], revenue_share=fmt.percent(richest["revenue_share"]),
                )
        chart = Chart("bar", t["segments"], labels=[str(s) for s in summary["segment"]], values=[float(v) for v in summary["customers"]],
                      value_labels=[f"{fmt.integer(c)} · {fmt.percent(s)}" for c, s in zip(summary["customers"], summary["share"])])
        return Section("segments", t["segments"], t["segments_intro"].format(as_of=self.window.as_of), charts=[chart], tables=[table])

    def migration(self) -> Section:
        """Who moved between RFM segments over the last complete period: the migration table
        as a from × to heatmap (share of the from-segment), and the biggest moves in words."""
        import dataclasses

        from userops.analytics.migration import new_label, segment_migration
        from userops.analytics.rfm import segment_order

        start, end = last_complete_period(self.window.as_of, self.period)
        since = start - dt.timedelta(days=1)
        at_end = dataclasses.replace(self.window, as_of=end, end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time()), until=None)
        if self.window.start is not None and dt.datetime.combine(since, dt.time()) < self.window.start:
            raise DataError(f"no {self.period} before the last complete one in the window")
        moved = segment_migration(self.loaded, at_end, since=since, scheme="rfm10", lang=self.lang, actions=self.actions)
        table = moved.transitions
        if table.empty:
            raise DataError("no customers")
        order = [*segment_order("rfm10", self.lang), new_label(self.lang)]
        froms = [f for f in order if f in set(table["from_segment"])]
        tos = [s for s in order if s in set(table["to_segment"])]
        cells = {(r.from_segment, r.to_segment): r for r in table.itertuples(index=False)}
        t = self.t
        rows: list[list[str]] = []
        heat: list[list[float | None]] = []
        for source in froms:
            size = int(table.loc[table["from_segment"] == source, "customers"].sum())
            row: list[str] = [fmt.text(source), fmt.integer(size)]
            shade: list[float | None] = [None, None]
            for target in tos:
                cell = cells.get((source, target))
                row.append(fmt.integer(cell.customers) if cell is not None else "")
                shade.append(float(cell.share_of_from) if cell is not None else None)
            rows.append(row)
            heat.append(shade)
        view = TableView([t["col_from_segment"], t["col_customers"], *tos], [False] + [True] * (1 + len(tos)), rows, heat)
        # moves between segments (the new customers' arrival is in the matrix, not a move)
        flows = table[(table["from_segment"] != table["to_segment"]) & (table["from_segment"] != new_label(self.lang))].sort_values(["customers", "from_segment", "to_segment"], ascending=[False, True, True]).head(3)
        said = [t["migration_flow"].format(n=fmt.integer(r.customers), source=r.from_segment, target=r.to_segment, share=fmt.percent(r.share_of_from))
                for r in flows.itertuples(index=False)]
        intro = t["migration_intro"].format(period=self.period_word, since=fmt.date(since), end=fmt.date(end), flows="; ".join(said))
        return Section("migration", t["migration"], intro, tables=[view], notes=list(moved.notes))

    def retention(self) -> Section:
        from userops.analytics.retention import retention

        result = retention(self.loaded, self.window, period="month", periods=RETENTION_COHORTS)
        rates = _pick(result.rates, RETENTION_COHORTS)
        if rates.empty:
            raise DataError("no cohorts yet")
        ks = [k for k in rates.columns if int(k) <= RETENTION_COHORTS]
        t = self.t
        rows: list[list[str]] = []
        heat: list[list[float | None]] = []
        for cohort, row in rates[ks].iterrows():
            size = result.sizes.get(cohort)
            rows.append([fmt.date(cohort)[:7], fmt.integer(size)] + [fmt.percent(v, 0) if not fmt.is_missing(v) else "" for v in row])
            cells: list[float | None] = [None if fmt.is_missing(v) or int(k) == 0 else float(v) for k, v in zip(ks, row)]
            heat.append([None, None, *cells])
        top = max([v for r in heat for v in r if v is not None] or [1.0]) or 1.0
        heat = [[None if v is None else v / top for v in r] for r in heat]
        table = TableView([t["col_cohort"], t["col_size"]] + [str(int(k)) for k in ks], [False] + [True] * (len(ks) + 1), rows, heat)
        return Section("retention", t["retention"], t["retention_intro"], tables=[table], notes=list(result.notes))

    def ltv(self) -> Section:
        """Cumulative revenue per customer by months since the first purchase: one line per
        acquisition channel (the largest) when the export has channels, else per recent cohort."""
        from userops.analytics.ltv import ltv

        if not self.loaded.facts.has_amount:
            raise DataError("no amounts")
        by_channel = any(s.channel for s in self.loaded.specs)
        result = ltv(self.loaded, self.window, period="month", by="channel" if by_channel else None, periods=LTV_MONTHS - 1)
        t = self.t
        column = "cumulative_revenue_per_customer"
        ks = list(range(LTV_MONTHS))
        series: list[tuple[str, list[float | None]]] = []
        rows: list[list[str]] = []
        if by_channel:
            sizes = result.cohorts.groupby("channel", sort=False)["customers"].sum().sort_values(ascending=False, kind="stable")
            for channel in list(sizes.index)[:LTV_LINES]:
                curve = result.curves[result.curves["channel"] == channel].set_index("period")[column].reindex(ks)
                values = [None if fmt.is_missing(v) else float(v) for v in curve]
                series.append((str(channel), values))
                after = [values[m - 1] if m - 1 < len(values) else None for m in LTV_TABLE_MONTHS]
                rows.append([fmt.text(channel), fmt.integer(sizes[channel])] + ["" if v is None else fmt.money(v) for v in after])
            labels_first = t["col_channel"]
        else:
            cells = result.cells
            ready = result.cohorts[[bool(cells[(cells["cohort"] == c) & (cells["period"] == 2)]["complete"].any()) for c in result.cohorts["cohort"]]]
            for cohort, size in zip(list(ready["cohort"])[-LTV_LINES:], list(ready["customers"])[-LTV_LINES:]):
                curve = cells[cells["cohort"] == cohort].set_index("period")[column].reindex(ks)
                values = [None if fmt.is_missing(v) else float(v) for v in curve]
                series.append((fmt.date(cohort)[:7], values))
                after = [values[m - 1] if m - 1 < len(values) else None for m in LTV_TABLE_MONTHS]
                rows.append([fmt.date(cohort)[:7], fmt.integer(size)] + ["" if v is None else fmt.money(v) for v in after])
            labels_first = t["col_cohort"]
        if not series:
            raise DataError("no cohort with three complete months yet")
        chart = Chart("line", t["ltv_chart"], x_labels=[str(k + 1) for k in ks], series=series, y_format="money")
        table = TableView(
            [labels_first, t["col_customers"]] + [t["col_ltv_after"].format(months=m) for m in LTV_TABLE_MONTHS],
            [False] + [True] * (1 + len(LTV_TABLE_MONTHS)), rows,
        )
        intro = t["ltv_intro_channel"] if by_channel else t["ltv_intro_cohort"]
        return Section("ltv", t["ltv"], intro, charts=[chart], tables=[table], notes=list(result.notes))

    def funnel(self, events: "LoadedEvents", steps: str | None, window_text: str) -> Section:
        from userops.analytics import funnel as fun

        ewindow = events.window(self.window.as_of, end_bounds_starts=True)
        if events.first_ts is not None and events.first_ts >= self.window.end:
            raise DataError(
                f"the events ({fmt.date(events.first_ts)} – {fmt.date(events.last_ts)}) all come after the orders' as-of date "
                f"{self.window.as_of}: the two files do not overlap in time"
            )
        if events.last_ts is not None and self.loaded.first_ts is not None and events.last_ts < self.loaded.first_ts:
            self.notes.append(
                f"the events ({fmt.date(events.first_ts)} – {fmt.date(events.last_ts)}) end before the first order "
                f"({fmt.date(self.loaded.first_ts)}): the funnel and the orders describe different times"
            )
        if steps:
            parsed = fun.parse_steps(steps)
        else:
            parsed, note = fun.infer_steps(events, ewindow, max_steps=FUNNEL_STEPS_INFERRED, where=say("steps_where_report"))
            self.notes.append(note)
        spec = fun.FunnelSpec(parsed, fun.parse_window(window_text))
        table, trend = fun.funnel_with_trend(events, ewindow, spec, "week")
        steps_after = table[table["step"] > 1]
        if len(table) > 1 and table["users"].iloc[0] > 0 and steps_after["conversion_from_previous"].notna().any():
            worst = steps_after.loc[steps_after["conversion_from_previous"].idxmin()]
            self.highlights["funnel"] = self.t["summary_funnel"].format(
                converted=fmt.percent(table["conversion_from_start"].iloc[-1]), first=table["event"].iloc[0], last=table["event"].iloc[-1],
                window=window_text, from_step=table["event"].iloc[int(worst["step"]) - 2], to_step=worst["event"],
                kept=fmt.percent(worst["conversion_from_previous"]),
            )
        # a misspelt step reads as a real drop to zero: said in the report, and on stderr as a
        # warning (a cron job's reader never opens the file)
        for warning in fun.funnel_warnings(events, ewindow, spec, table):
            self.notes.append(warning)
            self.warnings.append(warning)
        dates_only = fun.dates_only_note(events)
        if dates_only:
            self.notes.append(dates_only)
        t = self.t
        view = TableView(
            [t["col_step"], "", t["col_users"], t["col_conversion_prev"], t["col_conversion_start"], t["col_median_time"]],
            [True, False, True, True, True, True],
            [[str(r.step), fmt.text(r.event), fmt.integer(r.users), fmt.percent(r.conversion_from_previous), fmt.percent(r.conversion_from_start),
              fmt.duration(r.median_time_from_previous_s, self.lang)] for r in table.itertuples(index=False)],
        )
        bars = Chart("bar", t["funnel"], labels=[str(e) for e in table["event"]], values=[float(v) for v in table["users"]],
                     value_labels=[f"{fmt.integer(u)} · {fmt.percent(c)}" for u, c in zip(table["users"], table["conversion_from_start"])])
        charts = [bars]
        # weeks whose attempts are still inside their window would end the line with a false drop
        last_step = trend[trend["step"] == len(spec.steps)]
        last = last_step[last_step["complete"]]
        if len(last) < len(last_step):
            self.notes.append(t["funnel_trend_incomplete"].format(n=len(last_step) - len(last), window=window_text))
        if len(last) > 1:
            charts.append(Chart("line", t["funnel_trend"], x_labels=[fmt.date(p) for p in last["period"]],
                                series=[(spec.labels[-1], [None if fmt.is_missing(v) else float(v) for v in last["conversion_from_start"]])],
                                y_format="percent"))
        start = fmt.date(events.first_ts) if events.first_ts else ""
        intro = t["funnel_intro"].format(steps=" → ".join(spec.labels), window=window_text, start=start, end=self.window.as_of)
        return Section("funnel", t["funnel"], intro, charts=charts, tables=[view])

    def order_status(self, columns: dict[str, str] | None) -> Section:
        """The order-status funnel over the window (created → paid → shipped → delivered), and
        by week the median hours to ship and to deliver: the warehouse and the carrier."""
        from userops.analytics.order_status import order_status_funnel

        result = order_status_funnel(self.loaded, self.window, overrides=columns, trend="week", lang=self.lang, overall=True)
        table, weekly = result.overall, result.table
        assert table is not None  # a trend with ``overall``
        t = self.t
        view = TableView(
            [t["col_step"], "", t["col_orders"], t["col_conversion_prev"], t["col_conversion_start"], t["col_measured_from"], t["col_median_hours"], t["col_p90_time"]],
            [True, False, True, True, True, False, True, True],
            [[str(r.step), fmt.text(r.status), fmt.integer(r.orders), fmt.percent(r.conversion_from_previous), fmt.percent(r.conversion_from_start),
              fmt.text(r.measured_from), fmt.duration(r.median_hours * 3600, self.lang), fmt.duration(r.p90_hours * 3600, self.lang)] for r in table.itertuples(index=False)],
        )
        bars = Chart("bar", t["order_status"], labels=[str(s) for s in table["status"]], values=[float(v) for v in table["orders"]],
                     value_labels=[f"{fmt.integer(n)} · {fmt.percent(c)}" for n, c in zip(table["orders"], table["conversion_from_start"])])
        charts = [bars]
        # by week of creation, complete weeks: the median hours of the shipping and delivery steps
        timed = [(result.steps.index(step) + 1, t[f"order_status_{step}_time"]) for step in ("shipped", "delivered")
                 if step in result.steps and not fmt.is_missing(table["median_hours"].iloc[result.steps.index(step)])]
        complete = weekly[weekly["complete"]]
        periods = sorted(set(complete["period"]))[-TREND_PERIODS["week"]:]
        if timed and len(periods) > 1:
            series = []
            for step, label in timed:
                rows = complete[complete["step"] == step].set_index("period")["median_hours"].reindex(periods)
                series.append((label, [None if fmt.is_missing(v) else float(v) for v in rows]))
            charts.append(Chart("line", t["order_status_trend"], x_labels=[fmt.date(p) for p in periods], series=series))
        said = []
        for step, label in timed:
            row = table.iloc[step - 1]
            said.append(t["order_status_time"].format(what=label, median=fmt.duration(row["median_hours"] * 3600, self.lang), p90=fmt.duration(row["p90_hours"] * 3600, self.lang)))
        first, last = table.iloc[0], table.iloc[-1]
        intro = t["order_status_intro"].format(
            orders=fmt.integer(first["orders"]), start=fmt.date(self.loaded.first_ts.date()) if self.loaded.first_ts else "", end=self.window.as_of,
            last=last["status"], share=fmt.percent(last["conversion_from_start"]), times=" ".join(said),
        )
        return Section("order_status", t["order_status"], intro, charts=charts, tables=[view], notes=list(result.notes))

    def promo_review(self) -> Section:
        """大促复盘: the promotion that ended last, against the four weeks before it, and the
        repurchase of the customers it brought against organic ones of the same months."""
        from userops.analytics.promotions import BASELINE_DAYS, last_promotion, promo_review

        t = self.t
        first = self.loaded.first_ts.date() if self.loaded.first_ts else self.window.as_of
        promotion = last_promotion(self.promotions, first, self.window.as_of)
        if promotion is None:
            raise DataError(t["promo_none_ended"].format(days=BASELINE_DAYS))
        review = promo_review(self.loaded, self.window, self.promotions or (), promotion, lang=self.lang)
        label = f"{promotion.name} {promotion.start.year}"
        shown = {"revenue_per_day": fmt.money, "orders_per_day": lambda v: fmt.number(v, 1), "new_customers_per_day": lambda v: fmt.number(v, 1), "aov": fmt.money}
        figures = TableView(
            ["", f"{label} ({fmt.date(promotion.start)} – {fmt.date(promotion.end)})", t["promo_before"].format(days=BASELINE_DAYS), t["col_change"]],
            [False, True, True, True],
            [[t[f"promo_{r.metric}"], shown[r.metric](r.promotion), shown[r.metric](r.before),
              "" if fmt.is_missing(r.change) else f"{r.change * 100:+.1f}%"] for r in review.figures.itertuples(index=False)],
        )
        columns = [c for c in review.repurchase.columns if c.startswith("repurchase_")]
        repurchase = TableView(
            [t["col_acquired"], t["col_customers"], *(t["col_repurchase_within"].format(days=c.split("_")[1][:-1]) for c in columns)],
            [False, True, *(True for _ in columns)],
            [[fmt.text(r["acquired"]), fmt.integer(r["customers"]), *(fmt.percent(r[c]) for c in columns)] for _, r in review.repurchase.iterrows()],
        )
        revenue = review.figures.set_index("metric").loc["revenue_per_day"]
        promo_row, organic_row = review.repurchase.iloc[0], review.repurchase.iloc[1]
        said = t["promo_intro"].format(promotion=label, start=fmt.date(promotion.start), end=fmt.date(promotion.end), days=BASELINE_DAYS,
                                       change="" if fmt.is_missing(revenue["change"]) else f"{revenue['change'] * 100:+.1f}%")
        # the longest horizon both cohorts were observed for
        both = [c for c in columns if not fmt.is_missing(promo_row[c]) and not fmt.is_missing(organic_row[c])]
        if both:
            c = both[-1]
            said += " " + t["promo_repurchase"].format(days=c.split("_")[1][:-1], promotion=label, rate=fmt.percent(promo_row[c]), organic=fmt.percent(organic_row[c]))
        self.highlights["promo"] = said
        return Section("promo_review", t["promo_review"].format(promotion=label), said, tables=[figures, repurchase])

    def churn_survival(self, run: "ChurnRun") -> tuple["pd.DataFrame", list[str]]:
        """Kaplan–Meier curves per first channel (overall without channels) from churn's
        snapshot at the as-of date, and their medians."""
        from userops.analytics import churn as ch

        by = "channel" if any(spec.channel for spec in self.loaded.specs) else None
        try:
            return ch.survival_curves(self.loaded, self.window, run.threshold, by=by, features=run.current)
        except DataError:
            return ch.survival_curves(self.loaded, self.window, run.threshold, features=run.current)

    def churn(self, result: "ChurnResult", survival: tuple["pd.DataFrame", list[str]], horizon_days: int) -> Section:
        from userops.analytics.churn import in_language

        self.notes.extend(result.notes)
        t = self.t
        charts = []
        curves, medians = survival
        self.notes.extend(medians)
        charts.append(self._survival_chart(curves, result.threshold.days))
        if result.backtest is not None:
            charts += self._calibration_charts(result.backtest)
        metrics = result.risk.metrics
        tables = []
        if not metrics.empty:
            tables.append(TableView(
                [t["col_model"], t["col_roc_auc"], t["col_pr_auc"], t["col_precision_top"], t["col_lift_top"]],
                [False, True, True, True, True],
                [[fmt.text(name(m.model, self.lang)), fmt.number(m.roc_auc, 3), fmt.number(m.pr_auc, 3), fmt.percent(m.precision_top_decile), fmt.number(m.lift_top_decile, 2)]
                 for m in metrics.itertuples(index=False)],
            ))
        # the customers at risk (high, then medium tier), by value at risk: the low-risk big
        # spenders that lead the whole list need no win-back, and the churned are already lost
        top = in_language(_top_at_risk(result.customers, TOP_AT_RISK), self.lang, self.actions)
        tables.append(TableView(
            [t["col_customer"], t["col_recency"], t["col_frequency"], t["col_churn_probability"], t["col_clv"], t["col_value_at_risk"], t["col_risk_tier"]],
            [False, True, True, True, True, True, False],
            [[fmt.text(r.customer_id), fmt.integer(r.recency_days), fmt.integer(r.frequency), fmt.percent(r.churn_probability), fmt.money(r.clv),
              fmt.money(r.value_at_risk), fmt.text(r.risk_tier)] for r in top.itertuples(index=False)],
        ))
        from userops.analytics.backtest import MODEL_NAMES

        intro = t["churn_intro"].format(threshold=result.threshold.days, horizon=horizon_days, model=MODEL_NAMES[result.model])
        if result.backtest is not None:
            intro += " " + t["churn_model_chosen"].format(model=MODEL_NAMES[result.model], days=result.backtest.horizon_days, cut=fmt.date(result.backtest.cut))
        # each tier's action once, under the list (the same words on every row took a page)
        tier_actions = dict(zip(top["risk_tier"].astype(str), top["action"].astype(str)))
        notes = [f"{tier}: {action}" for tier, action in tier_actions.items() if action]
        notes += [result.risk.skipped] if result.risk.skipped else []
        return Section("churn", t["churn"], intro, charts=charts, tables=tables, notes=[n for n in notes if n])

    def _calibration_charts(self, backtest) -> list[Chart]:
        """The back-test behind the model choice, as BTYD papers draw it: mean holdout
        purchase days by calibration frequency, and the cumulative tracking by week."""
        from userops.analytics.backtest import MODEL_NAMES, MODELS

        t = self.t
        cut, days = fmt.date(backtest.cut), backtest.horizon_days
        by_frequency = backtest.by_frequency
        names = {"actual": t["series_actual"], **MODEL_NAMES}
        frequency = Chart(
            "line", t["calibration_frequency_chart"].format(days=days, cut=cut), x_labels=[str(f) for f in by_frequency["frequency"]],
            series=[(names[c], [round(float(v), 4) for v in by_frequency[c]]) for c in ("actual", *MODELS)],
        )
        tracking = backtest.tracking
        weekly = Chart(
            "line", t["calibration_tracking_chart"].format(cut=cut), x_labels=[str(int(w)) for w in tracking["week"]],
            series=[(names[c], [round(float(v), 2) for v in tracking[c]]) for c in ("actual", *MODELS)],
        )
        return [frequency, weekly]

    def _survival_chart(self, curves, threshold_days: int) -> Chart:
        """Step curves sampled on a common day grid (the value at or before each day)."""
        import numpy as np

        last_day = int(curves["days"].max()) if len(curves) else 0
        grid = np.unique(np.linspace(0, max(1, last_day), SURVIVAL_POINTS).round().astype(int))
        series: list[tuple[str, list[float | None]]] = []
        for group, part in curves.groupby("group", sort=True):
            days = part["days"].to_numpy()
            values = part["survival"].to_numpy()
            idx = np.searchsorted(days, grid, side="right") - 1
            series.append((str(group), [float(values[i]) if i >= 0 else 1.0 for i in idx]))
        return Chart("line", self.t["survival_chart"].format(threshold=threshold_days), x_labels=[str(d) for d in grid], series=series, y_format="percent", y_max=1.0, step=True, x_days=True)


def _top_at_risk(customers, n: int):
    """The first ``n`` customers of the high, then the medium tier by value at risk (highest
    first, then id). Only the candidates are sorted: per tier, those at or above its n-th
    highest value at risk (every customer when some have none)."""
    import numpy as np
    import pandas as pd

    parts = []
    for tier in ("high", "medium"):
        part = customers[(customers["risk_tier"] == tier).to_numpy()]
        value = part["value_at_risk"].to_numpy("float64")
        if len(part) > n and not np.isnan(value).any():
            part = part[value >= np.partition(value, len(value) - n)[len(value) - n]]
        parts.append(part)
    at_risk = pd.concat(parts)
    return at_risk.sort_values(["risk_tier", "value_at_risk", "customer_id"], ascending=[True, False, True], key=_tier_first, kind="stable").head(n)


def _tier_first(column):
    """Sort key: ``high`` before ``medium``; other columns as they are."""
    return column.map({"high": 0, "medium": 1}).astype("int64") if column.name == "risk_tier" else column


def build_report_model(
    loaded: "LoadedOrders",
    window: "Window",
    *,
    events: "LoadedEvents | None" = None,
    lang: str = "en",
    period: str = "week",
    title: str | None = None,
    steps: str | None = None,
    funnel_window: str = "14d",
    horizon_days: int = 90,
    actions: dict[str, str] | None = None,
    inputs: list[str] | None = None,
    purchase_model: str = "auto",
    columns: dict[str, str] | None = None,
    promotions: "tuple[Promotion, ...] | None" = None,
) -> ReportModel:
    """Compute every section with the library and turn it into display-ready text."""
    import os

    if lang not in ("en", "zh"):
        raise UsageError(f"--lang must be en or zh (got {lang!r})")
    if period not in REPORT_PERIODS:
        raise UsageError(f"--period must be week or month (got {period!r})")
    from userops.analytics.churn import ChurnRun

    b = _Builder(loaded, window, lang=lang, period=period, actions=actions, promotions=promotions)
    t = b.t
    # churn's queries first; then its models (mostly Python, on threads of their own) run
    # beside the other sections (mostly engine queries) and the survival curves. Churn has a
    # builder of its own: its section, notes and reason if left out come after the others',
    # as if it had run last
    c = _Builder(loaded, window, lang=lang, period=period, actions=actions)
    run = c.guarded(t["churn"], lambda: ChurnRun(loaded, window, horizon_days=horizon_days, actions=actions, model=purchase_model))
    # the survival curves need the threshold and the snapshot only: drawn on a model thread too
    drawn = run.submit(c.churn_survival, run) if run is not None else None
    try:
        try:
            kpis, kpi_intro = b.kpis()
        except (DataError, UsageError) as exc:
            kpis, kpi_intro = [], ""
            b.skipped.append(f"{t['kpis']}: {exc.message}")
        b.attempt(t["trends"], b.trends)
        if loaded.facts.has_amount:
            b.attempt(t["bridge"], b.bridge)
        b.attempt(t["segments"], b.segments)
        b.attempt(t["migration"], b.migration)
        b.attempt(t["retention"], b.retention)
        b.attempt(t["ltv"], b.ltv)
        if events is not None:
            b.attempt(t["funnel"], lambda: b.funnel(events, steps, funnel_window))
        else:
            b.skipped.append(f"{t['funnel']}: {t['no_events']}")
        b.attempt(t["order_status"], lambda: b.order_status(columns))
        if promotions is not None:  # a review needs a calendar; without one it is not asked for
            b.attempt(t["promo_review_title"], b.promo_review)
        if run is not None and drawn is not None:
            # the models' reason to leave the section out comes before the curves'
            c.attempt(t["churn"], lambda: c.churn(run.result(), drawn.result(), horizon_days))
    finally:
        if run is not None:
            run.close()
    b.sections += c.sections
    b.skipped += c.skipped
    b.notes += c.notes
    b.warnings += c.warnings

    drops = loaded.drops_for(window)
    summary = drops.plain_lines()
    quality = [(t["q_as_of"], window.as_of.isoformat()), (t["q_rows_read"], fmt.integer(drops.rows_read))]
    quality += [("", line) for line in drops.lines()]
    quality += [("", line) for line in loaded.notes]  # how it was read: time offsets, refunds netted, currency
    for info, mapping in zip(loaded.infos, loaded.mappings):
        used = ", ".join(f"{name(role, lang)} = {column}" for role, column in mapping.columns.items())
        quality.append((t["q_columns"], f"{os.path.basename(info.name)}: {used}"))
    if events is not None:
        edrops = events.drops_for(events.window(window.as_of))
        summary += [line for line in edrops.plain_lines() if edrops.dropped]
        quality.append((t["q_events"], count(edrops.rows_read, "row")))
        quality += [("", line) for line in edrops.lines()]
        quality += [("", line) for line in events.notes]
        for info, mapping in zip(events.infos, events.mappings):
            used = ", ".join(f"{name(role, lang)} = {column}" for role, column in mapping.columns.items())
            quality.append((t["q_columns"], f"{os.path.basename(info.name)}: {used}"))
    quality += [(t["q_notes"] if i == 0 else "", note) for i, note in enumerate(dict.fromkeys(b.notes))]
    # the glossary's messages in the report's language (the rest, from the data, as they are)
    quality = [(label, in_language(text, lang)) for label, text in quality]
    for section in b.sections:
        section.notes = [in_language(note, lang) for note in section.notes]
    names = ", ".join(os.path.basename(p) for p in (inputs or [i.name for i in loaded.infos]))
    return ReportModel(
        title=title or t["report_title"], lang=lang, as_of=window.as_of.isoformat(), kpi_title=t["kpis"], kpi_intro=kpi_intro,
        kpis=kpis, sections=b.sections, skipped=b.skipped, quality=quality,
        provenance=t["provenance"].format(version=__version__, inputs=names), skipped_title=t["skipped"], quality_title=t["quality"],
        warnings=list(dict.fromkeys(b.warnings)), quality_summary=[in_language(line, lang) for line in summary],
        summary=[b.highlights[key] for key in ("kpis", "promo", "segments", "funnel") if key in b.highlights], summary_title=t["summary"],
    )
