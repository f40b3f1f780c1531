"""``userops churn``: who is leaving, how soon, and what they are worth."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs

#: What the models import, prefetched while the data is read.
MODEL_MODULES = (
    "pandas", "scipy.special", "scipy.optimize", "sklearn.ensemble", "sklearn.linear_model", "sklearn.calibration",
    "sklearn.isotonic", "sklearn.metrics", "sklearn.model_selection", "sklearn.pipeline", "sklearn.preprocessing",
)


@command("churn")
def churn(
    inputs: Inputs,
    horizon: Annotated[Optional[str], typer.Option("--horizon", help="How far ahead: risk label, expected purchases and CLV (days or weeks: 90d, 13w).", show_default="90d")] = None,
    threshold: Annotated[Optional[str], typer.Option("--threshold", help="Churned after this long without a purchase (default: 90th percentile of gaps).")] = None,
    discount: Annotated[Optional[float], typer.Option("--discount", help="Monthly discount rate for CLV.", show_default="0.01")] = None,
    tier: Annotated[Optional[str], typer.Option("--tier", help="Only these risk tiers (churned, high, medium, low; comma-separated).")] = None,
    top: Annotated[Optional[int], typer.Option("--top", min=1, help="Only the first N customers by value at risk.")] = None,
    keep: Annotated[Optional[str], typer.Option("--keep", help="Carry input columns through per customer (latest value), e.g. email,phone.")] = None,
    columns: Annotated[Optional[str], typer.Option("--columns", help="Choose and order the output columns (comma-separated).")] = None,
    model_report: Annotated[bool, typer.Option("--model-report", help="The numbers behind the list: thresholds, BG/NBD and Gamma–Gamma parameters, risk-model metrics vs the baseline.")] = False,
    survival: Annotated[bool, typer.Option("--survival", help="Kaplan–Meier curves: group, days, survival, ci_lower, ci_upper, at_risk.")] = False,
    by: Annotated[Optional[str], typer.Option("--by", help="Survival per first-order channel or category, segment, or the first order's experience: refund (refunded or cancelled), ship_days, deliver_days, promo.")] = None,
    promos: Annotated[Optional[str], typer.Option("--promos", help="With --cox or --by promo: the promotion calendar (cn|us|none, [promotions]) that says whether the first order was in a promotion.")] = None,
    cox: Annotated[bool, typer.Option("--cox", help="Cox proportional hazards on first-order value, channel and category.")] = False,
    model: Annotated[Optional[str], typer.Option("--model", help="The purchase model: auto (the best of BG/NBD, Pareto/NBD and MBG/NBD on a holdout: the last --horizon before the as-of date), or bgnbd, pareto, mbgnbd.", show_default="auto")] = None,
    interval: Annotated[Optional[float], typer.Option("--interval", help="Add each customer's range of purchases and CLV holding this share of the model's forecast, e.g. 0.8 (expected_purchases_lo/hi, clv_lo/hi).")] = None,
    history: Annotated[Optional[str], typer.Option("--history", help="P(alive) week by week for these customers (comma-separated ids): customer_id, week_end, repeat_purchases, p_alive.")] = None,
    calibration: Annotated[Optional[str], typer.Option("--calibration", help="Back-test BG/NBD, Pareto/NBD and MBG/NBD on the last --horizon before the as-of date: 'frequency' (holdout purchases by calibration frequency) or 'weekly' (cumulative, week by week).")] = None,
    *,
    run: RunContext,
) -> None:
    """Who is leaving and what are they worth? Ranked by value at risk, with survival and CLV.

    Example: [bold]userops churn orders.csv --horizon 90d --tier high --keep email -o winback.xlsx[/bold]
    """
    from userops.analytics import churn as ch
    from userops.analytics.playbook import actions
    from userops.errors import UsageError
    from userops.glossary import say

    horizon_days = ch.parse_days(run.choose("horizon", horizon, "90d"), "--horizon") or ch.DEFAULT_HORIZON_DAYS
    threshold_days = ch.parse_days(run.choose("threshold", threshold, None), "--threshold")
    by = run.choose("by", by, None, ch.BY_CHOICES)
    from userops.analytics.backtest import CALIBRATION_VIEWS

    calibration = run.choose("calibration", calibration, None, CALIBRATION_VIEWS)
    history_ids = [i.strip() for i in history.split(",") if i.strip()] if history else []
    if history is not None and not history_ids:
        raise UsageError("--history needs customer ids, e.g. --history C001,C002")
    if sum([model_report, survival or by is not None, cox, calibration is not None, bool(history_ids)]) > 1:
        raise UsageError("--model-report, --survival/--by, --cox, --calibration and --history each write their own table: choose one")
    discount_monthly = run.choose("discount", discount, ch.DEFAULT_DISCOUNT)
    if isinstance(discount_monthly, bool) or not isinstance(discount_monthly, (int, float)) or not 0 <= discount_monthly < 1:
        raise UsageError(f"--discount is a monthly rate between 0 and 1 (got {discount_monthly!r})", hint="e.g. 0.01 for 1% a month")
    model = run.choose("model", model, "auto", ("auto", *ch.PURCHASE_MODELS))
    interval = run.choose("interval", interval, None)
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval < 1):
        raise UsageError(f"--interval is the share of the forecast a range holds, between 0 and 1 (got {interval!r})", hint="e.g. 0.8")
    tiers = [t.strip() for t in tier.split(",") if t.strip()] if tier else []
    unknown = [t for t in tiers if t not in ch.RISK_TIERS]
    if unknown:  # before the (possibly long) read
        raise UsageError(f"no risk tier named {', '.join(repr(t) for t in unknown)}", hint=f"tiers: {', '.join(ch.RISK_TIERS)}")
    keep_columns = run.keep_columns(keep)
    calendar = run.promo_calendar(promos) if cox or by is not None else None
    if by == "promo" and calendar is None:
        raise UsageError("--by promo needs promotion windows", hint="add --promos cn (or us), or name the shop's windows under [promotions] in userops.toml")
    run.prefetch(*MODEL_MODULES)
    loaded = run.load_orders(inputs, line_detail=cox or by == "category", keep=keep_columns)
    window = run.window(loaded)
    as_of = window.as_of.isoformat()

    if history_ids:
        with run.progress("fitting the purchase model"):
            chosen, _, model_notes = ch.chosen_model(loaded, window, model, horizon_days)
            table = ch.alive_history(loaded, window, history_ids, model=chosen)
        for note in model_notes:
            run.note(note)
        run.emit(table, title="P(alive) week by week", as_of=as_of, columns=columns)
        return

    if calibration is not None:
        from userops.analytics.backtest import backtest_note, calibration_table, holdout_backtest

        with run.progress("back-testing the purchase models"):
            backtest = holdout_backtest(loaded, window, horizon_days=horizon_days)
        run.note(backtest_note(backtest))
        table = calibration_table(backtest, calibration)
        run.emit(table, title=f"holdout calibration ({calibration})", as_of=as_of, columns=columns)
        return

    if survival or by is not None or cox:
        rule = ch.churn_threshold(loaded, window, threshold_days)
        run.note(say("churn_threshold", days=rule.days, source=rule.source))
        experience = None
        if cox or by in ch.EXPERIENCE_BY:
            from userops.analytics.order_status import first_order_experience

            experience = first_order_experience(loaded, window, overrides=run.column_overrides(), promotions=run.promotions(calendar, loaded), lang=run.lang)
        with run.progress("fitting survival models"):
            if cox:
                cox_fit = ch.cox_model(loaded, window, rule, experience=experience)
                for note in cox_fit.notes:
                    run.note(note)
                run.note(say(
                    "cox_fit", n=f"{cox_fit.n:,}", events=f"{cox_fit.events:,}", c=f"{cox_fit.concordance:.3f}",
                    sampled=say("cox_sampled") if cox_fit.sampled else "",
                ))
                if cox_fit.ph_violations:
                    run.note(say("ph_failed", names=", ".join(cox_fit.ph_violations)))
                else:
                    run.note(say("ph_ok"))
                run.emit(cox_fit.table, title="Cox proportional hazards (churn)", as_of=as_of, columns=columns)
                return
            curves, notes = ch.survival_curves(loaded, window, rule, by=by, experience=experience, lang=run.lang)
        for note in notes:
            run.note(note)
        run.emit(curves, title="customer survival (Kaplan–Meier)", as_of=as_of, columns=columns)
        return

    with run.progress("fitting churn and value models"):
        result = ch.churn_customers(
            loaded, window, horizon_days=horizon_days, threshold_days=threshold_days,
            discount_monthly=discount_monthly, actions=actions(run.config.playbook), interval=interval, model=model,
        )
    for note in result.notes:
        run.note(note)
    if model_report:
        run.emit(ch.model_report(result, run.lang), title="churn model report", as_of=as_of, columns=columns)
        return
    table = result.customers
    if tiers:
        table = table[table["risk_tier"].isin(tiers)].reset_index(drop=True)
    if top is not None:
        table = table.head(top)
    if keep_columns:
        from userops.analytics.segment import kept_attributes, with_kept_columns

        table = with_kept_columns(table, kept_attributes(loaded, window, keep_columns))
    table = ch.in_language(table, run.lang, actions(run.config.playbook))
    run.emit(table, title="customers by value at risk", as_of=as_of, columns=columns)
