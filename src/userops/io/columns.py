"""Which header plays which role: aliases (data, not code) and their resolution.

Headers are compared after normalisation (case, spaces, underscores, hyphens, dots and
brackets ignored). Each role lists alias tiers, best first: a header in an earlier tier
wins over one in a later tier (Shopify's ``Created at`` over ``Paid at``); two headers in
the same best tier are ambiguous and an error lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from userops import schema
from userops.errors import DataError, UsageError

# role -> tiers of aliases (already in normalised form is not required; they are normalised on load)
ROLE_ALIASES: dict[str, list[list[str]]] = {
    schema.ROLE_USER: [
        [
            "customer_id", "customerid", "customer id", "user_id", "userid", "user id", "client_id",
            "buyer_id", "member_id", "customer", "customer_number", "customer no", "uid", "user",
            "customer user id", "customer_user",  # WooCommerce
            "用户ID", "用户id", "会员ID", "会员id", "买家ID", "客户ID", "客户编号", "用户编号", "买家会员名", "会员名",
            "买家昵称", "用户名",
        ],
        ["email", "customer email", "billing email", "e-mail", "buyer email", "邮箱", "手机号", "买家手机号"],
    ],
    schema.ROLE_ORDER: [
        [
            "order_id", "orderid", "order id", "order_number", "order number", "order no", "order_no",
            "invoiceno", "invoice", "invoice_no", "invoice number", "transaction_id", "transaction id",
            "订单编号", "订单号", "订单ID", "主订单编号", "交易号",
        ],
        ["name", "number"],  # Shopify "Name" is the order number (#1001)
        ["id"],
    ],
    schema.ROLE_TIME: [
        [
            "order_date", "orderdate", "order date", "order_time", "order time", "order_ts", "invoicedate",
            "invoice date", "created_at", "created at", "date_created", "purchase_date", "purchase date",
            "purchase_time", "transaction_date", "timestamp", "event_time", "event time", "time", "date",
            "datetime", "ts", "occurred_at", "order created", "订单付款时间", "付款时间", "支付时间",
        ],
        ["paid at", "paid_at", "date paid", "processed at", "下单时间", "订单创建时间", "创建时间", "成交时间", "时间", "日期"],
    ],
    schema.ROLE_AMOUNT: [
        [
            "amount", "total", "line_total", "line total", "order_total", "order total", "order total amount",
            "revenue", "sales", "gmv", "total_amount", "total amount", "paid_amount", "payment_amount", "value",
            "price_total", "total price", "totalprice", "买家实际支付金额", "实付金额", "实际支付金额", "支付金额",
            "实收金额", "成交金额",
        ],
        ["subtotal", "order_amount", "总金额", "订单金额", "应付金额", "商品总价"],
    ],
    schema.ROLE_QUANTITY: [
        ["quantity", "qty", "lineitem quantity", "item quantity", "units", "cds", "数量", "购买数量", "宝贝数量", "商品数量"],
    ],
    schema.ROLE_UNIT_PRICE: [
        ["unit_price", "unitprice", "unit price", "price", "lineitem price", "item cost", "item price", "单价", "商品单价", "价格"],
    ],
    schema.ROLE_STATUS: [
        [
            "status", "order_status", "order status", "financial status", "financial_status", "payment_status",
            "payment status", "state", "订单状态", "交易状态", "状态",
        ],
    ],
    schema.ROLE_CATEGORY: [
        ["category", "product_category", "product category", "product type", "product_type", "item category", "类目", "商品类目", "品类", "分类", "商品分类"],
    ],
    schema.ROLE_CHANNEL: [
        [
            "channel", "source", "utm_source", "traffic_source", "acquisition_channel", "marketing channel",
            "referring site", "sales channel", "渠道", "来源", "订单来源", "流量来源",
        ],
    ],
    schema.ROLE_REFUNDED: [
        [
            "refunded amount", "refunded_amount", "refund amount", "refund_amount", "amount refunded", "total refunded",
            "order refund amount", "退款金额", "退款总额", "已退款金额",
        ],
    ],
    schema.ROLE_CURRENCY: [
        ["currency", "currency code", "currency_code", "order currency", "presentment currency", "币种", "货币", "币别"],
    ],
    schema.ROLE_MARGIN: [
        [
            "gross margin", "gross_margin", "gross profit", "gross_profit", "margin", "profit", "line profit",
            "毛利", "毛利润", "毛利额", "利润",
        ],
    ],
    # when the order reached each status (the time role is when it counts as a purchase)
    schema.ROLE_CREATED_AT: [
        ["created at", "created_at", "order created", "order created at", "creation time", "created", "订单创建时间", "创建时间", "下单时间"],
        ["order_date", "order date", "order time", "order_time", "date_created"],
    ],
    schema.ROLE_PAID_AT: [
        ["paid at", "paid_at", "date paid", "paid date", "payment time", "payment date", "订单付款时间", "付款时间", "支付时间"],
    ],
    schema.ROLE_SHIPPED_AT: [
        ["shipped at", "shipped_at", "fulfilled at", "fulfilled_at", "ship date", "shipping date", "shipped date", "dispatched at",
         "发货时间", "卖家发货时间", "物流发货时间"],
    ],
    schema.ROLE_DELIVERED_AT: [
        ["delivered at", "delivered_at", "delivery date", "delivered date", "received at", "completed at", "completed_at",
         "确认收货时间", "收货时间", "签收时间", "交易完成时间", "完成时间"],
    ],
    schema.ROLE_REVIEWED_AT: [
        ["reviewed at", "reviewed_at", "review date", "review time", "rated at", "评价时间", "买家评价时间"],
    ],
    schema.ROLE_PROVINCE: [
        ["province", "shipping province", "shipping province name", "billing province", "billing province name", "state/province",
         "shipping state", "region", "省份", "收货省份", "省", "收货人省份", "所在省份"],
    ],
    schema.ROLE_DISCOUNT: [
        ["discount amount", "discount_amount", "total discount", "total discounts", "total_discounts", "discount total", "discount",
         "优惠金额", "店铺优惠", "订单优惠", "优惠总额", "折扣金额", "优惠"],
    ],
    schema.ROLE_EVENT: [
        ["event", "event_name", "event name", "event_type", "event type", "action", "事件", "事件名", "行为", "行为类型"],
    ],
    schema.ROLE_SESSION: [
        ["session_id", "sessionid", "session id", "session", "visit_id", "会话ID", "会话id", "会话"],
    ],
}

#: Roles each kind of data needs; the others are optional.
REQUIRED_FOR_ORDERS = (schema.ROLE_USER, schema.ROLE_TIME)
REQUIRED_FOR_EVENTS = (schema.ROLE_USER, schema.ROLE_EVENT, schema.ROLE_TIME)


def normalise_header(name: str) -> str:
    """``"Customer ID"``, ``"customer_id"`` and ``"CustomerId"`` all become ``"customerid"``."""
    return re.sub(r"[\s_\-./()\[\]（）:：#]+", "", str(name)).lower()


_ALIAS_TIERS: dict[str, list[set[str]]] = {
    role: [{normalise_header(a) for a in tier} for tier in tiers] for role, tiers in ROLE_ALIASES.items()
}


@dataclass(frozen=True)
class ColumnMapping:
    """role -> header in the input. ``source`` says how each was found (alias, flag, config)."""

    columns: dict[str, str]
    source: dict[str, str] = field(default_factory=dict)

    def get(self, role: str) -> str | None:
        return self.columns.get(role)

    def required(self, role: str) -> str:
        """The header of a role :func:`require_roles` has checked is there."""
        return self.columns[role]

    def __contains__(self, role: str) -> bool:
        return role in self.columns


def resolve_roles(
    headers: list[str] | tuple[str, ...],
    overrides: dict[str, str] | None = None,
    *,
    file: str | None = None,
    roles: tuple[str, ...] = schema.ROLES,
) -> ColumnMapping:
    """Find the header for each role. ``overrides`` (flags / userops.toml) win over aliases.

    An override naming a header that does not exist is a usage error listing the headers.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    unknown = [role for role in overrides if role not in schema.ALL_ROLES]
    if unknown:
        raise UsageError(f"unknown column role {unknown[0]!r}", hint=f"roles are: {', '.join(schema.ALL_ROLES)}")
    # the on-demand roles are found apart from the others: their columns may be shared
    overrides = {k: v for k, v in overrides.items() if k in roles}
    by_norm: dict[str, list[str]] = {}
    for h in headers:
        by_norm.setdefault(normalise_header(h), []).append(h)

    columns: dict[str, str] = {}
    source: dict[str, str] = {}
    taken: set[str] = set()
    for role, header in overrides.items():
        match: str | None = header if header in headers else next(iter(by_norm.get(normalise_header(header)) or []), None)
        if match is None:
            raise UsageError(
                f"{schema.ROLE_FLAGS[role]} names {header!r}, which is not a column",
                file=file,
                hint=f"columns found: {', '.join(headers)}",
            )
        columns[role] = match
        source[role] = "override"
        taken.add(match)

    for role in roles:
        if role in columns:
            continue
        for tier in _ALIAS_TIERS[role]:
            found = [h for h in headers if normalise_header(h) in tier and h not in taken]
            if len(found) == 1:
                columns[role] = found[0]
                source[role] = "alias"
                taken.add(found[0])
                break
            if len(found) > 1:
                raise DataError(
                    f"several columns could be the {role} column: {', '.join(found)}",
                    file=file,
                    hint=f"choose one with {schema.ROLE_FLAGS[role]}",
                )
    return ColumnMapping(columns, source)


def require_roles(
    mapping: ColumnMapping, required: tuple[str, ...], headers: list[str] | tuple[str, ...], *, file: str | None, user_label: str = "customer"
) -> None:
    """Raise a DataError naming the first missing role, the headers found and the flag to set."""
    for role in required:
        if role not in mapping:
            label = {schema.ROLE_USER: user_label, schema.ROLE_TIME: "date/time", schema.ROLE_EVENT: "event name"}.get(role, role)
            raise DataError(
                f"no {label} column (found: {', '.join(headers)})",
                file=file,
                hint=f"set {schema.ROLE_FLAGS[role]}",
            )
