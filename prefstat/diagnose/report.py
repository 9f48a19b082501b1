"""The diagnostics report: one :class:`Diagnostic` per check, collected in a :class:`DiagnosticReport`.

Every diagnostic carries its DataFrames, one verdict line (what was found) and
the recommended action (empty when nothing needs doing), the test statistic and
p-value where there is a test, and matplotlib figures. The report prints as a
verdict table (:meth:`DiagnosticReport.summary`) and renders as one
self-contained HTML page (:meth:`DiagnosticReport.to_html`: tables as HTML,
figures as base64-encoded PNGs, no external files).
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..report.html import figure_to_data_uri

__all__ = ["Diagnostic", "DiagnosticReport", "STATUS"]

# flagged: the check found a problem; ok: it did not; skipped: it could not run (the verdict says why);
# info: descriptive, no test.
STATUS = ("flagged", "ok", "skipped", "info")


@dataclass
class Diagnostic:
    """One check's result.

    ``name`` is the key in the report (``"goodness_of_fit"``), ``status`` one of
    ``STATUS``, ``verdict`` one line saying what was found, ``action`` the
    recommended action ("" when none), ``statistic`` / ``p_value`` the test's
    (None for descriptive checks), ``tables`` named DataFrames (the first is
    :attr:`table`), ``figures`` named matplotlib Figures, ``details`` scalars
    (e.g. the number of bootstrap replicates used).
    """

    name: str
    title: str
    status: str
    verdict: str
    action: str = ""
    statistic: float | None = None
    p_value: float | None = None
    tables: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUS:
            raise ValueError(f"status must be one of {STATUS}; got {self.status!r}.")

    @property
    def flagged(self) -> bool:
        return self.status == "flagged"

    @property
    def table(self) -> pd.DataFrame:
        """The first (main) table, or an empty DataFrame."""
        return next(iter(self.tables.values())) if self.tables else pd.DataFrame()

    def line(self) -> str:
        text = f"[{self.status}] {self.title}: {self.verdict}"
        return text + (f" -> {self.action}" if self.action else "")


def skipped(name: str, title: str, reason: str) -> Diagnostic:
    """A diagnostic that could not run, with the reason as its verdict."""
    return Diagnostic(name=name, title=title, status="skipped", verdict=reason)


class DiagnosticReport:
    """All diagnostics of one table: ``report["goodness_of_fit"].table``, ``summary()``, ``to_html()``."""

    def __init__(self, diagnostics, source: str = "", settings: dict | None = None):
        self.diagnostics = {d.name: d for d in diagnostics}
        self.source = source
        self.settings = dict(settings or {})

    def __getitem__(self, name) -> Diagnostic:
        try:
            return self.diagnostics[name]
        except KeyError:
            raise KeyError(f"no diagnostic {name!r}; the report has {list(self.diagnostics)}.") from None

    def __iter__(self):
        return iter(self.diagnostics.values())

    def __len__(self) -> int:
        return len(self.diagnostics)

    @property
    def flagged(self) -> list:
        """Names of the diagnostics that found a problem."""
        return [d.name for d in self if d.flagged]

    def summary(self) -> pd.DataFrame:
        """One row per diagnostic: status, statistic, p-value, verdict, recommended action."""
        rows = [{"diagnostic": d.name, "status": d.status, "statistic": d.statistic, "p_value": d.p_value,
                 "verdict": d.verdict, "action": d.action} for d in self]
        return pd.DataFrame(rows).set_index("diagnostic")

    def __str__(self) -> str:
        head = f"prefstat diagnostics{' of ' + self.source if self.source else ''}"
        return "\n".join([head] + [d.line() for d in self])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.to_html(full_page=False)

    def to_html(self, path=None, full_page: bool = True) -> str:
        """The report as one self-contained HTML page (figures inlined as base64 PNG); written to
        ``path`` when given. Returns the HTML text."""
        parts = [f"<h1>prefstat diagnostics</h1><p>{html.escape(self.source)}</p>"]
        if self.settings:
            parts.append("<p>" + html.escape(", ".join(f"{k}={v}" for k, v in self.settings.items())) + "</p>")
        parts.append("<h2>Verdicts</h2>" + _frame_html(self.summary()))
        for d in self:
            parts.append(f"<h2 id='{d.name}'>{html.escape(d.title)} <small>[{d.status}]</small></h2>")
            parts.append(f"<p><b>Verdict:</b> {html.escape(d.verdict)}</p>")
            if d.action:
                parts.append(f"<p><b>Recommended action:</b> {html.escape(d.action)}</p>")
            for name, frame in d.tables.items():
                parts.append(f"<h3>{html.escape(name)}</h3>" + _frame_html(frame))
            for name, fig in d.figures.items():
                parts.append(f"<figure><img alt='{html.escape(name)}' src='{figure_to_data_uri(fig, dpi=90)}'/>"
                             f"<figcaption>{html.escape(name)}</figcaption></figure>")
        body = "\n".join(parts)
        text = body if not full_page else (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>prefstat diagnostics</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;"
            "font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head><body>"
            + body + "</body></html>")
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text


def _frame_html(frame: pd.DataFrame, max_rows: int = 50) -> str:
    shown = frame.head(max_rows)
    out = shown.to_html(float_format=lambda v: f"{v:.6g}", na_rep="", border=0)
    if len(frame) > max_rows:
        out += f"<p>({len(frame) - max_rows} more rows not shown)</p>"
    return out


def finite_or_none(value) -> float | None:
    """A float for the report, None when missing or not finite."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None
