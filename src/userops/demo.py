"""Deterministic example data: a shop's order lines and a clickstream.

Orders follow the BG/NBD story that CLV models assume: each customer buys at their own
rate (gamma-distributed across customers) and may drop out after any purchase (a
beta-distributed probability), so frequency is heavily tied and recency carries a real
churn signal. Channels differ in loyalty, a refund makes a customer likelier to leave,
and ~1% of orders are guest checkouts without a customer id. Every run with the same
seed writes the same bytes.

Marketing spend per month and paid channel (``costs.csv``, for ``userops ltv --costs``) is
the month's new customers of the channel times the channel's acquisition cost, with noise;
organic search has none.

Events are sessions walking home → product_view → add_to_cart → checkout → purchase with
drop-offs; during the incident week (2025-05-12 .. 2025-05-18) checkout → purchase falls.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

ORDERS_START = dt.date(2024, 1, 1)
ORDERS_END = dt.date(2025, 6, 30)
EVENTS_START = dt.date(2025, 4, 7)
EVENTS_END = dt.date(2025, 6, 29)
INCIDENT_WEEK = (dt.date(2025, 5, 12), dt.date(2025, 5, 18))

CHANNELS = ["organic_search", "paid_search", "social", "email", "referral", "marketplace"]
CHANNEL_SHARE = [0.30, 0.22, 0.18, 0.10, 0.08, 0.12]
CHANNEL_LOYALTY = [1.0, 0.85, 0.6, 1.4, 1.2, 0.75]  # multiplies the purchase rate; divides dropout
CATEGORIES = ["Electronics", "Home", "Beauty", "Fashion", "Grocery", "Toys", "Sports"]
CATEGORY_PRICE = [89.0, 35.0, 22.0, 45.0, 9.0, 25.0, 40.0]  # median unit price
#: Acquisition cost per new customer of the paid channels (organic search costs nothing).
CHANNEL_CAC = {"paid_search": 38.0, "social": 31.0, "email": 6.0, "referral": 12.0, "marketplace": 18.0}
STATUS_REFUNDED, STATUS_CANCELLED = 0.04, 0.02
GUEST_SHARE = 0.01
PEAK_SHIPPING = (dt.date(2024, 11, 4), dt.date(2024, 11, 24))  # warehouses slow after 11.11


def generate_orders(
    customers: int = 3000,
    *,
    seed: int = 7,
    start: dt.date = ORDERS_START,
    end: dt.date = ORDERS_END,
    first_customer: int = 0,
    first_order: int = 100001,
    id_width: int | None = None,
) -> "pa.Table":
    """Order lines as an Arrow table (columns of ``examples/orders.csv``), sorted by time.

    ``first_customer``/``first_order``/``id_width`` let large data sets be generated in
    chunks with unique ids (see benchmarks/run.py)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    span = (end - start).days + 1
    # acquisition: the shop grows, so later days are likelier
    weights = 1.0 + 1.5 * np.arange(span) / span
    first_day = rng.choice(span, size=customers, p=weights / weights.sum())
    channel = rng.choice(len(CHANNELS), size=customers, p=CHANNEL_SHARE)
    loyalty = np.asarray(CHANNEL_LOYALTY)[channel]
    rate = rng.gamma(shape=0.8, scale=1 / 50.0, size=customers) * loyalty  # purchases per day
    dropout = np.clip(rng.beta(1.2, 3.0, size=customers) / loyalty, 0.01, 0.95)
    favourite = rng.choice(len(CATEGORIES), size=customers)

    # simulate purchase times purchase by purchase, vectorised over the customers still alive
    t = first_day.astype(float) + rng.uniform(0.33, 0.99, size=customers)
    cust_ids, times, refunded = [], [], []
    alive = np.arange(customers)
    extra_dropout = np.ones(customers)
    while alive.size:
        cust_ids.append(alive)
        times.append(t[alive])
        status_draw = rng.random(alive.size)
        ref = status_draw < STATUS_REFUNDED
        refunded.append(np.where(ref, 1, np.where(status_draw < STATUS_REFUNDED + STATUS_CANCELLED, 2, 0)))
        extra_dropout[alive[ref]] = 2.5  # a refund makes leaving likelier
        stays = rng.random(alive.size) > np.clip(dropout[alive] * extra_dropout[alive], 0, 0.98)
        gaps = rng.exponential(1.0 / np.maximum(rate[alive], 1e-4))
        t[alive] = t[alive] + np.maximum(gaps, 0.02)
        alive = alive[stays & (t[alive] < span)]
    order_cust = np.concatenate(cust_ids)
    order_time = np.concatenate(times)
    order_status = np.concatenate(refunded)
    order_of = np.argsort(order_time, kind="stable")
    order_cust, order_time, order_status = order_cust[order_of], order_time[order_of], order_status[order_of]
    n_orders = order_cust.size

    guest = rng.random(n_orders) < GUEST_SHARE
    n_lines = 1 + np.minimum(rng.poisson(0.6, size=n_orders), 4)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    n_rows = line_order.size
    line_cust = order_cust[line_order]
    category = np.where(rng.random(n_rows) < 0.7, favourite[line_cust], rng.choice(len(CATEGORIES), size=n_rows))
    price = np.round(np.asarray(CATEGORY_PRICE)[category] * rng.lognormal(0, 0.45, size=n_rows), 2)
    quantity = 1 + rng.poisson(0.3, size=n_rows)
    line_total = np.round(price * quantity, 2)

    width = id_width or max(6, len(str(customers)))
    base = np.datetime64(start.isoformat(), "s")
    seconds = (order_time[line_order] * 86400).astype("int64")
    timestamps = pa.array(base + seconds.astype("timedelta64[s]")).cast(pa.timestamp("s"))
    ts_text = pa.compute.strftime(timestamps, format="%Y-%m-%d %H:%M:%S")
    cust_text = np.char.add("C", np.char.zfill((first_customer + line_cust).astype(str), width))
    cust_text = np.where(guest[line_order], "", cust_text)
    email = np.where(guest[line_order], "", np.char.add(np.char.lower(cust_text), "@example.com"))
    order_text = np.char.add("SO", np.char.zfill((first_order + line_order).astype(str), 8))
    status_text = np.asarray(["paid", "refunded", "cancelled"])[order_status[line_order]]
    product = np.char.add(np.char.add(np.asarray(CATEGORIES)[category], "-"), (rng.integers(1, 60, size=n_rows)).astype(str))
    shipped_text, delivered_text = _fulfilment(order_time, order_status, line_order, span=span, base=base, seed=seed)
    return pa.table(
        {
            "order_id": order_text,
            "customer_id": cust_text,
            "email": email,
            "order_date": ts_text,
            "status": status_text,
            "channel": np.asarray(CHANNELS)[channel[line_cust]],
            "category": np.asarray(CATEGORIES)[category],
            "product": product,
            "quantity": quantity,
            "unit_price": price,
            "line_total": line_total,
            "shipped_at": shipped_text,
            "delivered_at": delivered_text,
        }
    )


def _fulfilment(order_time, order_status, line_order, *, span: int, base, seed: int):
    """When each order line's order was shipped and delivered (text, blank when not yet by
    the end of the data or never): paid orders ship after a lognormal ~1.5 days, slower
    in the weeks of the 11.11 peak; delivery takes ~2.5 more. Refunds are mostly refused
    deliveries (shipped, never delivered); cancelled orders never ship. A random stream of
    its own: the other columns are the same with or without these."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed + 1_000_003)
    n = order_time.size
    peak = (order_time >= (PEAK_SHIPPING[0] - ORDERS_START).days) & (order_time < (PEAK_SHIPPING[1] - ORDERS_START).days + 1)
    ship = order_time + rng.lognormal(np.log(1.5), 0.6, size=n) * np.where(peak, 2.2, 1.0)
    deliver = ship + rng.lognormal(np.log(2.5), 0.4, size=n)
    shipped = (order_status != 2) & (ship < span)
    delivered = (order_status == 0) & (deliver < span)

    def text(days, keep):
        stamps = pa.array(base + (days[line_order] * 86400).astype("int64").astype("timedelta64[s]")).cast(pa.timestamp("s"))
        return np.where(keep[line_order], np.asarray(pa.compute.strftime(stamps, format="%Y-%m-%d %H:%M:%S")), "")

    return text(ship, shipped), text(deliver, delivered)


def generate_events(
    visitors: int = 5000,
    *,
    seed: int = 11,
    start: dt.date = EVENTS_START,
    end: dt.date = EVENTS_END,
    first_user: int = 0,
    first_session: int = 0,
    id_width: int | None = None,
) -> "pa.Table":
    """A clickstream (user_id, session_id, event, timestamp, channel, platform), sorted by time.

    ``first_user``/``first_session``/``id_width`` let big data sets be made in chunks."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    span_s = ((end - start).days + 1) * 86400
    sessions_per = 1 + rng.poisson(1.2, size=visitors)
    s_user = np.repeat(np.arange(visitors), sessions_per)
    n_sessions = s_user.size
    s_start = rng.uniform(0, span_s - 3600, size=n_sessions)
    s_channel = rng.choice(len(CHANNELS), size=n_sessions, p=CHANNEL_SHARE)
    platform = rng.choice(3, size=visitors, p=[0.5, 0.3, 0.2])
    incident_lo = (INCIDENT_WEEK[0] - start).days * 86400
    incident_hi = ((INCIDENT_WEEK[1] - start).days + 1) * 86400
    in_incident = (s_start >= incident_lo) & (s_start < incident_hi)

    # how far each session gets: 0 home, 1 product_view, 2 add_to_cart, 3 checkout, 4 purchase
    lands_on_product = rng.random(n_sessions) < 0.2
    p_next = np.array([0.65, 0.35, 0.55, 0.70])
    reach = np.where(lands_on_product, 1, 0)
    for step in range(4):  # sessions at `step` try to go one step further
        p = np.full(n_sessions, p_next[step])
        if step == 3:
            p = np.where(in_incident, 0.30, p)
        p = np.minimum(p * np.asarray(CHANNEL_LOYALTY)[s_channel] ** 0.3, 0.95)
        reach[(reach == step) & (rng.random(n_sessions) < p)] = step + 1
    names = np.asarray(["home", "product_view", "add_to_cart", "checkout", "purchase"])
    views = 1 + np.minimum(rng.poisson(0.8, size=n_sessions), 5)
    ev_session, ev_step, ev_offset = [], [], []
    for step in range(5):
        idx = np.nonzero((reach >= step) & ~(lands_on_product & (step == 0)))[0]
        reps = views[idx] if step == 1 else np.ones(idx.size, dtype=int)
        rows = np.repeat(idx, reps)
        k = np.arange(rows.size) - np.repeat(np.cumsum(reps) - reps, reps)  # n-th view in the session
        ev_session.append(rows)
        ev_step.append(np.full(rows.size, step))
        # steps 300 s apart, views 30 s apart, jitter < 60 s: events follow the path order in time
        ev_offset.append(step * 300.0 + k * 30.0 + rng.uniform(0, 60, size=rows.size))
    session = np.concatenate(ev_session)
    steps = np.concatenate(ev_step)
    t = s_start[session] + np.concatenate(ev_offset)
    order = np.lexsort((steps, session, np.floor(t)))
    session, steps, t = session[order], steps[order], t[order]
    base = np.datetime64(start.isoformat(), "s")
    ts = pa.array(base + t.astype("int64").astype("timedelta64[s]")).cast(pa.timestamp("s"))
    user = s_user[session]
    return pa.table(
        {
            "user_id": np.char.add("U", np.char.zfill((first_user + user).astype(str), id_width or 5)),
            "session_id": np.char.add("S", np.char.zfill((first_session + session).astype(str), (id_width or 5) + 1)),
            "event": names[steps],
            "timestamp": pa.compute.strftime(ts, format="%Y-%m-%d %H:%M:%S"),
            "channel": np.asarray(CHANNELS)[s_channel[session]],
            "platform": np.asarray(["web", "ios", "android"])[platform[user]],
        }
    )


def generate_costs(orders: "pa.Table", *, seed: int = 7) -> "pa.Table":
    """Spend per month and paid channel (month, channel, spend) for the customers ``orders``
    acquires: each month's new customers of a channel (first order in it) times the channel's
    CAC, times lognormal noise (sd 0.15)."""
    import numpy as np
    import pyarrow as pa

    frame = orders.select(["customer_id", "order_date", "channel"]).to_pandas()
    frame = frame[frame["customer_id"] != ""]
    first = frame.sort_values("order_date", kind="stable").drop_duplicates("customer_id")
    first = first.assign(month=first["order_date"].str[:7])
    new = first.groupby(["month", "channel"], sort=True).size().reset_index(name="customers")
    new = new[new["channel"].isin(list(CHANNEL_CAC))].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    cac = new["channel"].map(CHANNEL_CAC).to_numpy("float64")
    spend = np.round(new["customers"].to_numpy("float64") * cac * rng.lognormal(0.0, 0.15, size=len(new)), 2)
    return pa.table({"month": new["month"].to_numpy(object), "channel": new["channel"].to_numpy(object), "spend": spend})


def write_csv(table: "pa.Table", path: str) -> None:
    """Plain CSV (generated values never need quoting), written atomically."""
    from pyarrow import csv as pacsv

    from userops.io.writers import csv_header, csv_write_options

    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(csv_header(table.column_names))
        pacsv.write_csv(table, fh, csv_write_options(quoting_style="none", include_header=False))
    os.replace(tmp, path)


def generate_demo(out_dir: str, *, customers: int = 4000, visitors: int = 8000, seed: int = 7) -> list[str]:
    """Write ``orders.csv``, ``events.csv`` and ``costs.csv`` into ``out_dir``; return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    orders = os.path.join(out_dir, "orders.csv")
    events = os.path.join(out_dir, "events.csv")
    costs = os.path.join(out_dir, "costs.csv")
    order_lines = generate_orders(customers, seed=seed)
    write_csv(order_lines, orders)
    write_csv(generate_events(visitors, seed=seed + 4), events)
    write_csv(generate_costs(order_lines, seed=seed + 8), costs)
    return [orders, events, costs]
