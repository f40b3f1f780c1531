"""``userops.toml``: defaults for any option and the column mapping.

Precedence: built-in defaults < ``userops.toml`` (top level, then the command's own table)
< flags. Example::

    as_of = "2025-06-30"
    period = "week"
    excel = true

    [columns]
    user = "Buyer Nick"
    amount = "Paid (CNY)"

    [profile]
    per = "customer"
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from userops.errors import InputError, UsageError

CONFIG_NAME = "userops.toml"
COMMANDS = ("profile", "segment", "funnel", "retention", "churn", "report", "inspect", "ltv", "check", "uplift", "demo")
#: Tables of options shared by every command (a command's own table still wins).
SHARED_TABLES = ("output",)


@dataclass(frozen=True)
class Config:
    options: dict[str, Any] = field(default_factory=dict)  # option name (snake_case) -> value
    columns: dict[str, str] = field(default_factory=dict)  # role -> header
    path: str | None = None
    playbook: dict[str, str] = field(default_factory=dict)  # segment -> action overrides
    spark_conf: dict[str, str] = field(default_factory=dict)  # [engine.conf]: Spark settings
    checks: list[dict[str, Any]] = field(default_factory=list)  # [[check]] rules (userops check)
    promotions: dict[str, Any] = field(default_factory=dict)  # [promotions]: calendar and the shop's windows

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def load_config(path: str | None = None, *, command: str | None = None, cwd: str | None = None) -> Config:
    """Read ``path`` (must exist), else ``userops.toml`` in ``cwd`` if present, else empty."""
    if path is None:
        candidate = os.path.join(cwd or os.getcwd(), CONFIG_NAME)
        if not os.path.isfile(candidate):
            return Config()
        path = candidate
    elif not os.path.isfile(path):
        raise InputError("config file not found", file=path, hint="check --config")
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"invalid TOML ({exc})", file=path) from exc
    except OSError as exc:
        raise InputError(f"cannot read the config ({exc.strerror})", file=path) from exc

    columns = data.pop("columns", {}) or {}
    checks = data.pop("check", [])
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise UsageError("check rules are [[check]] tables", file=path, hint='e.g. [[check]] metric = "repeat_rate", when = "drop", threshold = "2pp"')
    promotions = data.pop("promotions", {})
    if not isinstance(promotions, dict):
        raise UsageError("[promotions] must be a table", file=path, hint='e.g. calendar = "cn" and "会员日" = ["2025-03-15", "2025-03-17"]')
    options, spark_conf = _engine_table(data.pop("engine", {}), path)
    playbook = data.pop("playbook", {}) or {}
    if not isinstance(playbook, dict) or not all(isinstance(v, str) for v in playbook.values()):
        raise UsageError("[playbook] must map segment names to actions (strings)", file=path)
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise UsageError("[columns] must map roles to header names (strings)", file=path)
    unknown = sorted(k for k, v in data.items() if isinstance(v, dict) and k not in COMMANDS + SHARED_TABLES)
    if unknown:  # a misspelt [segmnet] would otherwise be ignored without a word
        raise UsageError(
            f"unknown table [{unknown[0]}]", file=path,
            hint=f"tables are [columns], [playbook], [promotions], [output] and one per command: {', '.join(COMMANDS)}",
        )
    options.update({k.replace("-", "_"): v for k, v in data.items() if not isinstance(v, dict)})
    for table in SHARED_TABLES:  # options for every command, grouped (headers = "zh" under [output])
        if isinstance(data.get(table), dict):
            options.update({k.replace("-", "_"): v for k, v in data[table].items()})
    if command and isinstance(data.get(command), dict):
        options.update({k.replace("-", "_"): v for k, v in data[command].items()})
    return Config(
        options=options, columns={k.replace("-", "_"): v for k, v in columns.items()}, path=path, playbook=playbook, spark_conf=spark_conf,
        checks=checks, promotions=promotions,
    )


#: Keys of the [engine] table -> the option each sets.
ENGINE_KEYS = {"kind": "engine", "master": "spark_master"}


def _engine_table(table: Any, path: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``[engine]``: ``kind = "duckdb" | "spark"``, ``master = "yarn"`` and Spark settings
    under ``[engine.conf]`` (``"spark.executor.memory" = "8g"``)."""
    if not isinstance(table, dict):
        raise UsageError("[engine] must be a table (kind, master, conf)", file=path)
    unknown = sorted(set(table) - set(ENGINE_KEYS) - {"conf"})
    if unknown:
        raise UsageError(f"unknown key {unknown[0]!r} in [engine]", file=path, hint="[engine] takes kind, master and a [engine.conf] table")
    conf = table.get("conf", {})
    if not isinstance(conf, dict) or not all(isinstance(v, (str, int, float, bool)) for v in conf.values()):
        raise UsageError("[engine.conf] must map Spark settings to values", file=path, hint='e.g. "spark.executor.memory" = "8g"')
    options = {ENGINE_KEYS[k]: v for k, v in table.items() if k in ENGINE_KEYS}
    return options, {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in conf.items()}
