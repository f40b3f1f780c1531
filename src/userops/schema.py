"""Canonical column names and the output columns of every table: the one glossary.

After loading, every frame uses these names; analytics never see a raw header.
Units are in the names (``_days``, ``_rate``); ratios are 0–1.
"""

from __future__ import annotations

# --- column roles (what io/columns.py looks for in a header) --------------------------
ROLE_USER = "user"
ROLE_ORDER = "order"
ROLE_TIME = "time"
ROLE_AMOUNT = "amount"
ROLE_QUANTITY = "quantity"
ROLE_UNIT_PRICE = "unit_price"
ROLE_STATUS = "status"
ROLE_CATEGORY = "category"
ROLE_CHANNEL = "channel"
ROLE_EVENT = "event"
ROLE_SESSION = "session"
ROLE_REFUNDED = "refunded"  # the amount refunded on an order (Shopify "Refunded Amount", 退款金额)
ROLE_CURRENCY = "currency"
ROLE_MARGIN = "margin"  # gross profit on a line or order (毛利): cumulative margin in ``ltv``
# when an order reached each status (the order-status funnel, first-order experience)
ROLE_CREATED_AT = "created_at"
ROLE_PAID_AT = "paid_at"
ROLE_SHIPPED_AT = "shipped_at"
ROLE_DELIVERED_AT = "delivered_at"
ROLE_REVIEWED_AT = "reviewed_at"
ROLE_PROVINCE = "province"  # the shipping province or state
ROLE_DISCOUNT = "discount"  # the discount on an order (Shopify "Discount Amount", 优惠金额)

ROLES = (
    ROLE_USER,
    ROLE_ORDER,
    ROLE_TIME,
    ROLE_AMOUNT,
    ROLE_QUANTITY,
    ROLE_UNIT_PRICE,
    ROLE_STATUS,
    ROLE_CATEGORY,
    ROLE_CHANNEL,
    ROLE_REFUNDED,
    ROLE_CURRENCY,
    ROLE_MARGIN,
    ROLE_EVENT,
    ROLE_SESSION,
)

#: Roles looked for only by the analyses that read them: their columns may be the same as
#: a role above (Shopify's ``Created at`` is both the order time and the creation step).
STATUS_TIME_ROLES = (ROLE_CREATED_AT, ROLE_PAID_AT, ROLE_SHIPPED_AT, ROLE_DELIVERED_AT, ROLE_REVIEWED_AT)
ON_DEMAND_ROLES = (*STATUS_TIME_ROLES, ROLE_PROVINCE, ROLE_DISCOUNT)
ALL_ROLES = ROLES + ON_DEMAND_ROLES

#: The command-line flag that overrides each role.
ROLE_FLAGS = {role: f"--{role.replace('_', '-')}-col" for role in ALL_ROLES}

# --- profile outputs ------------------------------------------------------------------
PROFILE_SUMMARY_COLUMNS = [
    "customers",  # distinct customers with at least one purchase in scope
    "orders",  # distinct orders (purchases)
    "revenue",  # sum of order amounts
    "aov",  # revenue / orders
    "orders_per_customer",  # orders / customers
    "repeat_rate",  # customers with >= 2 orders / customers (0-1)
    "first_date",  # date of the first order in scope
    "last_date",  # date of the last order in scope
    "median_days_between_orders",  # median gap between consecutive orders of a customer
    "as_of",  # the reference date used
]

PROFILE_CUSTOMER_COLUMNS = [
    "customer_id",
    "first_order",  # timestamp of the first order
    "last_order",  # timestamp of the last order
    "orders",
    "revenue",
    "aov",
    "mean_days_between_orders",  # (last - first) / (orders - 1), fractional days; blank for one order
    "tenure_days",  # whole calendar days from the first order date to the as-of date
    "recency_days",  # whole calendar days from the last order date to the as-of date
    "top_category",  # category with most order lines; ties -> alphabetical
    "top_channel",  # channel with most orders; ties -> alphabetical
    "active_periods",  # distinct periods (--period) with an order
    "lifecycle_status",  # new / active / at risk / churned, see analytics/lifecycle.py
]

PROFILE_PERIOD_COLUMNS = [
    "period",  # start date of the period
    "new_customers",  # customers whose first order falls in the period
    "active_customers",  # customers with an order in the period
    "orders",
    "revenue",
    "aov",
    "complete",  # false when the period had not ended by the as-of date
]

#: Added to the period rows with a promotion calendar (``--promos``).
PROFILE_PERIOD_PROMO_COLUMNS = [
    "promo",  # the promotions overlapping the period, " / "-joined (blank: none)
    "promo_orders",  # orders placed inside a promotion window
    "promo_revenue",
    "promo_revenue_share",  # promo_revenue / revenue
]

#: Rounding applied to analytic outputs (documented, so spreadsheets see stable values).
MONEY_DECIMALS = 2
DAYS_DECIMALS = 2
RATE_DECIMALS = 4


def is_ratio(column: str) -> bool:
    """Whether a column holds a 0–1 ratio, from its name: ``*_rate``, ``*_share``,
    ``conversion_*``, ``share``, ``rate`` (the terminal shows these as %, XLSX formats them as %)."""
    return column.endswith(("_rate", "_share")) or column.startswith("conversion") or column in ("share", "rate")
