"""Export drift (``userops inspect --save-profile`` / ``--against``): what changed in an export
since a saved profile of it, so a broken export does not produce a confident wrong report.

A profile records the columns (role, type, blank and distinct shares), the role mapping,
the row count, the date range and the status values. Against a saved one, these changes are
**breaking** (``inspect`` exits 3):

* a role column missing, or a role now read from another column (renamed);
* a role column whose values read as another type (money as text, a new date layout);
* rows down by more than ``max_row_drop`` (default a fifth);
* the date range going backwards (the latest date earlier than before);
* a status value never seen before that userops would count as a purchase (a new refund or
  chargeback spelling would be revenue).

Reported but not breaking: a new column, a non-role column's type, a new status value
userops already excludes, a role column's blank share up by more than 10 points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from userops.errors import DataError, InputError, OutputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from userops.io.normalise import InspectResult

PROFILE_VERSION = 1
MAX_ROW_DROP = 0.2
BLANK_RISE = 0.10
COLUMNS = ["change", "severity", "column", "before", "after"]


@dataclass(frozen=True)
class Drift:
    table: "pd.DataFrame"  # COLUMNS, breaking first

    @property
    def breaking(self) -> int:
        return int((self.table["severity"] == "breaking").sum())


def export_profile(result: "InspectResult", statuses: list[str]) -> dict[str, Any]:
    """The profile of one inspected export (JSON-ready)."""
    rows = max(result.rows, 1)
    columns = [
        {
            "column": str(r.column), "role": None if r.role is None or r.role != r.role else str(r.role), "type": str(r.type),
            "blank_share": round(1 - int(r.non_blank) / rows, 4), "distinct_share": round(int(r.distinct_approx) / rows, 4),
        }
        for r in result.columns.itertuples(index=False)
    ]
    return {
        "userops_export_profile": PROFILE_VERSION,
        "file": result.info.name,
        "rows": result.rows,
        "first_date": result.first_ts.isoformat(sep=" ") if result.first_ts else None,
        "last_date": result.last_ts.isoformat(sep=" ") if result.last_ts else None,
        "roles": dict(sorted(result.mapping.columns.items())),
        "columns": columns,
        "status_values": sorted(statuses),
    }


def compare_export(result: "InspectResult", saved: dict[str, Any], *, max_row_drop: float = MAX_ROW_DROP) -> tuple[dict[str, Any], Drift]:
    """An inspected export's profile and its changes against a saved one, with the statuses
    userops excludes as purchases (a new one of those is no breaking change)."""
    from userops.io.normalise import EXCLUDED_STATUSES
    from userops.scan.sql import status_spellings

    profile = export_profile(result, list(result.status_values))
    return profile, compare_profiles(saved, profile, excluded=set(status_spellings(EXCLUDED_STATUSES)), max_row_drop=max_row_drop)


def save_profile(profile: dict[str, Any], path: str) -> None:
    import os

    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(profile, fh, ensure_ascii=False, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write the profile ({exc.strerror or exc})", file=path) from exc


def load_profile(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            profile = json.load(fh)
    except FileNotFoundError as exc:
        raise InputError("no such file", file=path, hint="save one first with --save-profile") from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"not a userops export profile ({exc})", file=path, hint="save one with --save-profile") from exc
    if not isinstance(profile, dict) or profile.get("userops_export_profile") != PROFILE_VERSION:
        raise DataError("not a userops export profile", file=path, hint="save one with --save-profile")
    return profile


def compare_profiles(old: dict[str, Any], new: dict[str, Any], *, excluded: set[str], max_row_drop: float = MAX_ROW_DROP) -> Drift:
    """The changes from ``old`` to ``new`` (see the module docstring). ``excluded``: the
    lower-cased status spellings userops does not count as purchases."""
    import pandas as pd

    changes: list[tuple[str, str, str, str, str]] = []
    old_cols = {c["column"]: c for c in old["columns"]}
    new_cols = {c["column"]: c for c in new["columns"]}
    for role, column in old["roles"].items():
        now = new["roles"].get(role)
        if now is None:
            changes.append(("role column missing", "breaking", column, role, "not found"))
        elif now != column:
            changes.append(("role column renamed", "breaking", now, column, now))
        elif old_cols.get(column, {}).get("type") != new_cols.get(column, {}).get("type"):
            changes.append(("type changed", "breaking", column, str(old_cols[column]["type"]), str(new_cols[column]["type"])))
        elif new_cols[column]["blank_share"] - old_cols[column]["blank_share"] > BLANK_RISE:
            changes.append(("more blanks", "warning", column, f"{old_cols[column]['blank_share']:.1%}", f"{new_cols[column]['blank_share']:.1%}"))
    roles = set(new["roles"].values()) | set(old["roles"].values())
    for column, spec in new_cols.items():
        if column not in old_cols:
            changes.append(("new column", "warning", column, "", str(spec["type"])))
        elif column not in roles and old_cols[column]["type"] != spec["type"]:
            changes.append(("type changed", "warning", column, str(old_cols[column]["type"]), str(spec["type"])))
    for column in old_cols:
        if column not in new_cols and column not in old["roles"].values():
            changes.append(("column missing", "warning", column, str(old_cols[column]["type"]), ""))
    if old["rows"] and new["rows"] < old["rows"] * (1 - max_row_drop):
        changes.append(("fewer rows", "breaking", "", f"{old['rows']:,}", f"{new['rows']:,} ({new['rows'] / old['rows'] - 1:+.1%})"))
    if old.get("last_date") and new.get("last_date") and new["last_date"] < old["last_date"]:
        changes.append(("dates went backwards", "breaking", old["roles"].get("time", ""), f"last {old['last_date']}", f"last {new['last_date']}"))
    seen = set(old.get("status_values") or [])
    status = new["roles"].get("status", "")
    for value in new.get("status_values") or []:
        if value not in seen:
            counted = value.strip().lower() not in excluded
            changes.append(("new status value", "breaking" if counted else "warning", status, "", f"{value} ({'counted as a purchase' if counted else 'excluded'})"))
    table = pd.DataFrame(changes, columns=COLUMNS)
    table = table.sort_values("severity", key=lambda s: s.map({"breaking": 0, "warning": 1}), kind="stable").reset_index(drop=True)
    return Drift(table)
