"""``userops segment``: RFM segments, the Chinese 8-class model, k-means clusters, lifecycle."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs


@command("segment")
def segment(
    inputs: Inputs,
    scheme: Annotated[Optional[str], typer.Option("--scheme", help="rfm10 (R×F grid), cn8 (8 classes, high/low R F M) or kmeans.", show_default="rfm10")] = None,
    bins: Annotated[Optional[int], typer.Option("--bins", min=2, max=10, help="Number of R/F/M scores (quantile bins), 2 to 10.", show_default="5")] = None,
    monetary: Annotated[Optional[str], typer.Option("--monetary", help="total revenue or mean order value.", show_default="total")] = None,
    r_cuts: Annotated[Optional[str], typer.Option("--r-cuts", help="Explicit recency cut points in days, e.g. 30,60,120,240.")] = None,
    f_cuts: Annotated[Optional[str], typer.Option("--f-cuts", help="Explicit frequency cut points, e.g. 1,2,3,5.")] = None,
    m_cuts: Annotated[Optional[str], typer.Option("--m-cuts", help="Explicit monetary cut points.")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="cn8: high/low against the mean or the median.", show_default="mean")] = None,
    k: Annotated[Optional[int], typer.Option("--k", min=2, max=20, help="kmeans: number of clusters (default: best silhouette in 2..8).")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="One row per segment instead of one per customer.")] = False,
    filter_: Annotated[Optional[str], typer.Option("--filter", help="Only these segments (comma-separated): the campaign list.")] = None,
    columns: Annotated[Optional[str], typer.Option("--columns", help="Choose and order the output columns (comma-separated).")] = None,
    keep: Annotated[Optional[str], typer.Option("--keep", help="Carry input columns through per customer (latest value), e.g. email,phone.")] = None,
    lifecycle: Annotated[bool, typer.Option("--lifecycle", help="Lifecycle counts per --period: new, returning, resurrected, dormant.")] = False,
    period: Annotated[Optional[str], typer.Option("--period", help="day|week|month|quarter|year (lifecycle counts; 'new' status).", show_default="month")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="Migration: score every customer as of this date and as of --as-of with the same cut points; write from_segment, to_segment, customers, share_of_from, revenue_since.")] = None,
    cuts_from: Annotated[Optional[str], typer.Option("--cuts-from", help="Migration: the cut points of the --since date or of the as-of date.", show_default="since")] = None,
    holdout: Annotated[Optional[str], typer.Option("--holdout", help="Hold out this share of the list as a control group (10% or 0.1): adds group = treatment|control, stratified by segment.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="--holdout: the draw's seed (same seed, same groups).")] = 0,
    promos: Annotated[Optional[str], typer.Option("--promos", help="Promotion calendar cn|us|none (and [promotions] in userops.toml): adds promo_orders, promo_order_share and promo_only (every order in a promotion) per customer; with --summary each segment's promo_order_share and promo_only_share.")] = None,
    moved: Annotated[Optional[str], typer.Option("--moved", help='Migration: the customers of these moves, e.g. "Champions>At risk,Loyal>About to sleep" (with --keep: contacts).')] = None,
    *,
    run: RunContext,
) -> None:
    """Which groups get which campaign? RFM scores, named segments, clusters and lifecycle.

    Example: [bold]userops segment orders.csv --filter 'At risk' --keep email -o at_risk.xlsx[/bold]
    """
    from userops.analytics import segment as seg
    from userops.analytics.periods import PERIODS
    from userops.analytics.playbook import actions
    from userops.analytics.rfm import SCHEMES, parse_cuts, segment_order

    keep_columns = run.keep_columns(keep)
    period = run.choose("period", period, "month", PERIODS)
    share = None
    if holdout is not None:
        from userops.analytics.campaign import parse_share
        from userops.errors import UsageError
        from userops.io.writers import is_uri

        share = parse_share(holdout)
        if summary or lifecycle or since is not None:
            raise UsageError("--holdout draws a control group from a customer list: not with --summary, --lifecycle or --since")
        if is_uri(run.get("output")):
            raise UsageError("--holdout writes a local list", hint="write the list to a local file")
    # every option is checked before the (possibly long) read of the data
    options = dict(
        scheme=run.choose("scheme", scheme, "rfm10", SCHEMES), bins=run.choose("bins", bins, 5, whole=True, bounds=(2, 10)),
        monetary=run.choose("monetary", monetary, "total", ("total", "mean")),
        r_cuts=parse_cuts(run.choose("r_cuts", r_cuts, None), "--r-cuts"),
        f_cuts=parse_cuts(run.choose("f_cuts", f_cuts, None), "--f-cuts"),
        m_cuts=parse_cuts(run.choose("m_cuts", m_cuts, None), "--m-cuts"),
        split=run.choose("split", split, "mean", ("mean", "median")), lang=run.lang,
        k=run.choose("k", k, None, whole=True, bounds=(2, 20)), period=period, actions=actions(run.config.playbook),
    )
    calendar = run.promo_calendar(promos)
    if calendar is not None and (lifecycle or since is not None):
        from userops.errors import UsageError

        raise UsageError("--promos adds columns to the customer list and the summary: not with --lifecycle or --since")
    wanted = [s.strip() for s in filter_.split(",") if s.strip()] if filter_ else []
    scheme_names = segment_order(options["scheme"], options["lang"])  # kmeans names its clusters later
    if wanted and scheme_names:
        seg.check_segment_names(wanted, scheme_names)
    if since is None and (moved is not None or cuts_from is not None):
        from userops.errors import UsageError

        raise UsageError("--moved and --cuts-from go with --since DATE")
    if since is not None:
        from userops.analytics import migration as mig
        from userops.scan.window import parse_date

        since_date = parse_date(since, flag="--since")
        cuts_choice = run.choose("cuts_from", cuts_from, "since", mig.CUTS_FROM)
        pairs = mig.parse_moves(moved, scheme_names, options["lang"]) if moved is not None else None
        loaded = run.load_orders(inputs, order_detail=False, keep=keep_columns)
        window = run.window(loaded)
        with run.progress("scoring both dates"):
            migration = mig.segment_migration(loaded, window, since=since_date, cuts_from=cuts_choice, keep=keep_columns, **options)
        for said in migration.notes:
            run.note(said)
        if pairs is not None:
            run.emit(mig.moved_customers(migration, pairs), title="customers who moved", as_of=window.as_of.isoformat(), columns=columns)
        else:
            run.emit(migration.transitions, title=f"segment migration {since_date} → {window.as_of}", as_of=window.as_of.isoformat(), columns=columns)
        return
    loaded = run.load_orders(inputs, order_detail=False, keep=keep_columns)
    window = run.window(loaded)
    if lifecycle:
        run.emit(seg.lifecycle_table(loaded, window, period=period), title=f"lifecycle by {period}", as_of=window.as_of.isoformat(), columns=columns)
        return
    with run.progress("segmenting"):
        # release: the scan's memory goes back before scoring
        result = seg.segment_customers(loaded, window, keep=keep_columns, release=True, promotions=run.promotions(calendar, loaded), **options)
    for note in result.notes:
        run.note(note)
    table = result.summary if summary else result.output
    if wanted:
        table = seg.filter_segments(table, wanted, scheme_names=scheme_names)
    if share is not None:
        from userops.scan.campaign import assign_holdout

        table = assign_holdout(table, share, seed=seed)
    run.emit(table, title="segments" if summary else "customers by segment", as_of=window.as_of.isoformat(), columns=columns)
