"""Per-customer rows of a result: computed by the engine and kept as Arrow until they are
written, or computed in Python as a pandas frame (k-means, the pure frame functions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa


class EngineRows:
    """Mixed into a result dataclass with the fields ``frame`` and ``arrow`` (one of them set)."""

    frame: "pd.DataFrame | None"
    arrow: "pa.Table | None"

    def rows_frame(self) -> "pd.DataFrame":
        """The rows as pandas (from Arrow once; the result caches it)."""
        if self.frame is not None:
            return self.frame
        assert self.arrow is not None
        from userops.scan.engine import arrow_to_frame

        return arrow_to_frame(self.arrow)

    @property
    def output(self) -> "pd.DataFrame | pa.Table":
        """What the CLI writes: the Arrow table when there is one (no pandas on the way out)."""
        return self.arrow if self.arrow is not None else self.rows_frame()
