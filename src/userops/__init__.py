"""userops: user-operations analytics for e-commerce exports.

The library API is re-exported lazily so that importing ``userops`` (and ``userops --help``)
does not import pandas or DuckDB::

    import userops
    loaded = userops.load_orders(["orders.csv"])
    result = userops.profile_table(loaded, loaded.window(), per="customer")
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "load_orders": "userops.io.normalise",
    "prepare_orders": "userops.io.normalise",
    "LoadOptions": "userops.io.normalise",
    "profile_table": "userops.analytics.profile",
    "dataset_kpis": "userops.analytics.profile",
    "customer_profile": "userops.analytics.profile",
    "period_activity": "userops.analytics.profile",
    "lifecycle_status": "userops.analytics.lifecycle",
    "segment_customers": "userops.analytics.segment",
    "segment_frame": "userops.analytics.segment",
    "lifecycle_table": "userops.analytics.segment",
    "rfm_values": "userops.analytics.rfm",
    "rfm_scores": "userops.analytics.rfm",
    "churn_customers": "userops.analytics.churn",
    "model_report": "userops.analytics.churn",
    "survival_curves": "userops.analytics.churn",
    "inspect_input": "userops.io.normalise",
    "generate_demo": "userops.demo",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'userops' has no attribute {name!r}")
