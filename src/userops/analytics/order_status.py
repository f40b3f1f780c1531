"""The order-status funnel: created → paid → shipped → delivered → reviewed
(下单 → 付款 → 发货 → 收货 → 评价), built from the order export itself.

Each order's steps come from the times its export records (Shopify ``Paid at``/``Fulfilled at``,
Taobao 订单付款时间/发货时间/确认收货时间, own columns mapped like any role) and from its final
status (交易成功 says it was delivered). A step is shown when some column or status speaks of it.

The rule for skipped steps: an order counts at every step up to the furthest one it reached,
by a time or by its status — a delivered order was shipped and paid, even when cash on
delivery paid last or a virtual good was never shipped. ``inferred`` counts the orders a step
holds for that reason only. A step with a time column is timed from the nearest step before
it that has one (``measured_from``: shipped from created when the export records no payment
time), over the orders with both times in order; ``out_of_order`` counts those whose step
came first (cash on delivery pays after shipping), left out of the times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from userops import schema
from userops.errors import DataError, UsageError
from userops.io import columns as colmod
from userops.scan import load as scan_load
from userops.scan import order_status as scan_status

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from userops.analytics.promotions import Promotion
    from userops.io.normalise import LoadedOrders
    from userops.scan.window import Window

STEPS = ("created", "paid", "shipped", "delivered", "reviewed")
BY_ROLES = ("channel", "category", "province")

#: Final status values (compared lower-cased) -> the furthest step they say the order reached.
#: Shopify's financial statuses, WooCommerce's, Taobao/Tmall's 订单状态, JD's and the plain words.
STATUS_STEPS: dict[int, tuple[str, ...]] = {
    1: ("pending", "pending payment", "pending_payment", "wc-pending", "unpaid", "awaiting payment", "awaiting_payment", "created", "new",
        "cancelled", "canceled", "wc-cancelled", "voided", "void", "expired", "failed", "wc-failed", "closed", "abandoned",
        "等待买家付款", "待付款", "未付款", "待支付", "已下单", "交易关闭", "已取消", "订单关闭", "已关闭", "取消", "订单取消"),
    2: ("paid", "processing", "wc-processing", "authorized", "partially_paid", "partially paid", "on-hold", "wc-on-hold", "refunded",
        "wc-refunded", "partially_refunded", "partially refunded",
        "买家已付款，等待卖家发货", "买家已付款,等待卖家发货", "等待卖家发货", "待发货", "已付款", "已支付", "退款成功", "已退款", "退款中"),
    3: ("shipped", "fulfilled", "in transit", "in_transit", "out for delivery", "dispatched", "partially fulfilled", "partial",
        "卖家已发货，等待买家确认", "卖家已发货,等待买家确认", "等待买家确认收货", "已发货", "待收货", "运输中", "配送中"),
    4: ("delivered", "completed", "complete", "wc-completed", "received", "交易成功", "已签收", "已收货", "已完成", "交易完成", "完成"),
    5: ("reviewed", "rated", "已评价", "交易成功已评价", "已追评"),
}
#: Statuses that end an order where it stopped (its step counts ``closed_here``).
CLOSING = (
    "cancelled", "canceled", "wc-cancelled", "voided", "void", "expired", "failed", "wc-failed", "closed", "abandoned", "refunded",
    "wc-refunded", "交易关闭", "已取消", "订单关闭", "已关闭", "取消", "订单取消", "退款成功", "已退款",
)
STATUS_STEP = {value: step for step, values in STATUS_STEPS.items() for value in values}

COLUMNS = [
    "step", "status", "orders", "conversion_from_previous", "conversion_from_start", "measured_from", "median_hours", "p90_hours",
    "timed_orders", "inferred", "out_of_order", "closed_here",
]


@dataclass
class OrderStatusFunnel:
    table: "pd.DataFrame"
    steps: list[str]  # the steps shown, in English (``status`` holds them in the language asked)
    notes: list[str] = field(default_factory=list)
    overall: "pd.DataFrame | None" = None  # with a split and ``overall``: every order together


def status_sources(loaded: "LoadedOrders", overrides: dict[str, str] | None = None, *, by: str | None = None) -> list[scan_status.StatusSource]:
    """Per input: its step-time columns (mapped by alias, ``[columns]`` and the ``--*-at-col``
    flags), its status column, its discount column and the ``--by`` column."""
    out = []
    wanted = schema.STATUS_TIME_ROLES + (schema.ROLE_DISCOUNT,) + ((schema.ROLE_PROVINCE,) if by == "province" else ())
    for spec, info in zip(loaded.specs, loaded.infos):
        headers = list(spec.types)
        mapping = colmod.resolve_roles(headers, overrides, file=info.name, roles=wanted)
        times = tuple(mapping.get(role) for role in schema.STATUS_TIME_ROLES)
        times = (times[0] or spec.time,) + times[1:]  # created: the order time when no column says
        group, from_address = _group_column(spec, mapping, headers, by, file=info.name)
        out.append(scan_status.StatusSource(spec, info.name, times, spec.status, group, from_address, mapping.get(schema.ROLE_DISCOUNT)))
    return out


#: Address columns whose first word is the province (Taobao's 收货地址 "浙江省 杭州市 ...").
ADDRESS_HEADERS = {colmod.normalise_header(h) for h in ("收货地址", "收货人地址", "收货地址 ", "详细地址", "shipping address")}


def _group_column(spec, mapping: colmod.ColumnMapping, headers: list[str], by: str | None, *, file: str) -> tuple[str | None, bool]:
    if by is None:
        return None, False
    if by in ("channel", "category"):
        column = spec.channel if by == "channel" else spec.category
        if column is None:
            raise DataError(f"--by {by}: the export has no {by} column", file=file, hint=f"set --{by}-col")
        return column, False
    if by == "province":
        if mapping.get(schema.ROLE_PROVINCE):
            return mapping.get(schema.ROLE_PROVINCE), False
        address = next((h for h in headers if colmod.normalise_header(h) in ADDRESS_HEADERS), None)
        if address is None:
            raise DataError("--by province: the export has no province or shipping-address column", file=file, hint="set --province-col")
        return address, True
    column = by if by in headers else next((h for h in headers if colmod.normalise_header(h) == colmod.normalise_header(by)), None)
    if column is None:
        raise UsageError(f"--by {by!r} is not a column", file=file, hint=f"use channel, category, province or a column: {', '.join(headers)}")
    return column, False


def shown_steps(loaded: "LoadedOrders", sources: list[scan_status.StatusSource]) -> tuple[list[int], list[str]]:
    """The steps some column or status value speaks of (created always), and the status
    values that name no step (said, not silently counted as anything)."""
    evidenced = {1}
    unread: dict[str, None] = {}
    for source in sources:
        evidenced |= {k + 1 for k, column in enumerate(source.times) if column is not None}
        if source.status:
            for value in scan_load.distinct_values(loaded.engine, source.spec.view, source.status, file=source.file):
                step = STATUS_STEP.get(value.strip().lower())
                if step is None:
                    unread[value] = None
                else:
                    evidenced.add(step)
    return sorted(evidenced), list(unread)


def through_latest_order(loaded: "LoadedOrders", window: "Window", overrides: dict[str, str] | None = None) -> "Window":
    """``window`` extended to the day of the latest order created: the default as-of date of
    the order-status funnel (the purchases' as-of date would leave out the unpaid orders
    created since the last payment)."""
    import dataclasses
    import datetime as dt

    latest = scan_status.latest_creation(loaded, status_sources(loaded, overrides))
    if latest is None or latest.date() <= window.as_of:
        return window
    return dataclasses.replace(window, as_of=latest.date(), end=dt.datetime.combine(latest.date() + dt.timedelta(days=1), dt.time()))


def order_status_funnel(
    loaded: "LoadedOrders", window: "Window", *, overrides: dict[str, str] | None = None, by: str | None = None, trend: str | None = None,
    lang: str = "en", overall: bool = False,
) -> OrderStatusFunnel:
    """Per step (per ``by`` group, or per ``trend`` period of the creation time): orders,
    conversion, and the median and 90th-percentile hours from the step before. With
    ``overall`` and a split, ``overall`` also holds the table of every order (the report
    shows both, from one pass)."""
    import datetime as dt

    import pandas as pd

    from userops.glossary import name, say

    if by is not None and trend is not None:
        raise UsageError("--by and --trend cannot be combined", hint="run one, then the other")
    sources = status_sources(loaded, overrides, by=by)
    steps, unread = shown_steps(loaded, sources)
    if len(steps) == 1:
        raise DataError(
            "the export has no status column and no paid, shipped or delivered times: there is no order-status funnel to build",
            file=sources[0].file if len(sources) == 1 else None,
            hint="map the columns with --status-col, --paid-at-col, --shipped-at-col, --delivered-at-col",
        )
    # each step is timed from the nearest step before it that an export records a time of
    timed = {k + 1 for source in sources for k, column in enumerate(source.times) if column is not None}
    measured_from = [next((j for j in reversed(steps[:i]) if j in timed), None) if k in timed else None for i, k in enumerate(steps)]
    found = scan_status.step_stats(
        loaded, window, sources, STATUS_STEP, CLOSING, steps, measured_from, grouped=by is not None, period=trend, overall=overall or trend is not None,
    )
    parts, whole = found.parts, found.whole
    notes: list[str] = [say("order_status_rule")]
    if found.untimed:
        notes.append(say("order_status_untimed", n=f"{found.untimed:,}"))
    if found.unnamed:
        notes.append(say("order_status_no_id", n=f"{found.unnamed:,}"))
    for k, n in enumerate(found.unreadable, start=1):
        if n:
            columns = sorted({c for c in (s.times[k - 1] for s in sources) if c is not None})
            notes.append(say("order_status_unreadable", n=f"{n:,}", columns=", ".join(repr(c) for c in columns), step=name(STEPS[k - 1], lang)))
    if unread:
        notes.append(say("order_status_unread", values=", ".join(unread[:8]) + (" …" if len(unread) > 8 else "")))
    labels = [name(STEPS[k - 1], lang) for k in steps]
    origins = [None if j is None else name(STEPS[j - 1], lang) for j in measured_from]
    # a period is complete once its orders have had the time most orders take to pass every
    # step (the 90th percentiles added up): before that its later steps read low
    settle = dt.timedelta(hours=sum(float(r.p90_us) / 3.6e9 for r in whole or [] if r.p90_us is not None))
    frames = []
    for key in sorted(parts, key=lambda v: (v is None, v)):
        table = _steps_table(parts[key], labels, origins)
        if by is not None:
            table.insert(0, by, key)
        elif trend is not None:
            from userops.analytics.periods import next_period_start

            start = pd.Timestamp(key).date()
            table.insert(0, "period", start)
            table.insert(1, "complete", dt.datetime.combine(next_period_start(start, trend), dt.time()) + settle <= window.end)
        frames.append(table)
    if not frames:
        raise DataError("no orders created in the window")
    whole_table = _steps_table(whole, labels, origins) if overall and whole is not None and (by is not None or trend is not None) else None
    return OrderStatusFunnel(pd.concat(frames, ignore_index=True), [STEPS[k - 1] for k in steps], notes, whole_table)


def _steps_table(rows: list[scan_status.StepRow], labels: list[str], origins: list[str | None]) -> "pd.DataFrame":
    import pandas as pd

    hours = 3600 * 1e6
    first = rows[0].orders
    records = []
    for i, row in enumerate(rows):
        previous = rows[i - 1].orders if i else None
        records.append({
            "step": i + 1,
            "status": labels[i],
            "orders": row.orders,
            "conversion_from_previous": None if i == 0 or not previous else round(row.orders / previous, schema.RATE_DECIMALS),
            "conversion_from_start": round(row.orders / first, schema.RATE_DECIMALS) if first else None,
            "measured_from": origins[i],
            "median_hours": None if row.median_us is None else round(float(row.median_us) / hours, 2),
            "p90_hours": None if row.p90_us is None else round(float(row.p90_us) / hours, 2),
            "timed_orders": row.timed if origins[i] is not None else None,
            "inferred": row.inferred,
            "out_of_order": row.out_of_order,
            "closed_here": row.closed_here,
        })
    table = pd.DataFrame.from_records(records, columns=COLUMNS)
    for column in ("conversion_from_previous", "conversion_from_start", "median_hours", "p90_hours"):
        table[column] = table[column].astype("float64")
    table["timed_orders"] = table["timed_orders"].astype("Int64")
    return table


#: First-order experience buckets: (upper bound in days, label); the last has no bound.
SHIP_BUCKETS = ((1, "≤1 day"), (3, "1–3 days"), (7, "3–7 days"), (None, ">7 days"))
DELIVERY_BUCKETS = ((3, "≤3 days"), (7, "3–7 days"), (14, "7–14 days"), (None, ">14 days"))
NOT_SHIPPED, NOT_DELIVERED = "not shipped", "not delivered"  # and never will be: closed
#: A first order still open, created within this many days of the as-of date and not yet at
#: the step: its experience is not known yet (an older open order has stalled: never).
PENDING_DAYS = 30
SHIPPING_YET, DELIVERY_YET = "not shipped yet", "not delivered yet"


def first_order_experience(
    loaded: "LoadedOrders", window: "Window", *, overrides: dict[str, str] | None = None, promotions: "tuple[Promotion, ...] | None" = None,
    lang: str = "en",
) -> "pd.DataFrame":
    """Per customer, what their first order was like (cancelled and unpaid orders included:
    the first order the export records), for churn's survival curves and Cox model:

    * ``first_order_refunded``: it was cancelled, refunded (a closing status or a refunded
      amount) or closed (交易关闭) — with a status or refunded-amount column;
    * ``days_to_ship``, ``days_to_deliver``: from payment (else creation) to shipping and to
      delivery, bucketed (:data:`SHIP_BUCKETS`, :data:`DELIVERY_BUCKETS`); without the time,
      ``not shipped yet``/``not delivered yet`` for an order still open and created within
      :data:`PENDING_DAYS` of the as-of date (``pending`` is then true: its experience is
      not known yet), else ``not shipped``/``not delivered`` — with those time columns;
    * ``first_order_promo``: created inside a promotion window — with a calendar;
    * ``first_discount_share``: its discount over its amount before the discount — with a
      discount column and amounts.

    Only the columns the export supports are there (``customer_id`` and ``pending`` always);
    the labels are in ``lang``."""
    import numpy as np
    import pandas as pd

    from userops.glossary import name

    sources = status_sources(loaded, overrides)
    frame = scan_status.first_orders(loaded, window, sources, STATUS_STEP, CLOSING)
    out = pd.DataFrame({"customer_id": frame["customer_id"].astype(str)})
    closed = (frame["closed"].fillna(False).astype(bool) | frame["refunded"].fillna(False).astype(bool)).to_numpy()
    if any(s.status or s.spec.refunded for s in sources):
        out["first_order_refunded"] = closed
    start = pd.to_datetime(frame["paid"]).fillna(pd.to_datetime(frame["created"]))
    recent = (pd.to_datetime(frame["created"]) >= pd.Timestamp(window.end) - pd.Timedelta(days=PENDING_DAYS)).to_numpy()
    out["pending"] = False
    steps = (("shipped", "days_to_ship", SHIP_BUCKETS, NOT_SHIPPED, SHIPPING_YET), ("delivered", "days_to_deliver", DELIVERY_BUCKETS, NOT_DELIVERED, DELIVERY_YET))
    for step, column, buckets, never, yet in steps:
        if any(s.times[STEPS.index(step)] is not None for s in sources):
            days = (pd.to_datetime(frame[step]) - start).dt.total_seconds().to_numpy() / 86400
            waiting = np.isnan(days) & ~closed & recent
            out["pending"] |= waiting
            labels = np.where(waiting, yet, _bucketed(days, buckets, never))
            out[column] = [name(v, lang) for v in labels] if lang != "en" else labels
    if promotions is not None:
        created = pd.to_datetime(frame["created"])
        inside = np.zeros(len(frame), dtype=bool)
        for w in promotions:
            inside |= ((created >= pd.Timestamp(w.start)) & (created < pd.Timestamp(w.end) + pd.Timedelta(days=1))).to_numpy()
        out["first_order_promo"] = inside
    if any(s.discount for s in sources) and loaded.facts.has_amount:
        discount, amount = frame["discount"].astype("float64"), frame["amount"].astype("float64")
        out["first_discount_share"] = (discount.fillna(0) / (amount + discount.fillna(0))).where(amount + discount.fillna(0) > 0).round(4).to_numpy()
    return out


def _bucketed(days, buckets, never: str) -> "np.ndarray":
    """Each value's bucket label (a negative time — paid after shipping — counts as the
    first; NaN, no time, is ``never``)."""
    import numpy as np

    days = np.asarray(days, dtype="float64")
    conditions = [np.isnan(days)] + [days <= bound for bound, _ in buckets[:-1]]
    return np.select(conditions, [never] + [label for _, label in buckets[:-1]], default=buckets[-1][1]).astype(object)
