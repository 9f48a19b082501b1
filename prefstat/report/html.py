"""A self-contained HTML page: sections of text, tables and figures, nothing fetched at view time.

Figures are embedded as base64 PNG and the style sheet is inline, so the page
opens from disk, travels as one file and runs no script (so a browser has no
console error to report). The small Markdown subset that the study reports use
(headings, paragraphs, fenced code, ``**bold**``, ``code``, images of files in the
same folder) is rendered by :func:`markdown_to_html`; anything else is shown as
plain text, escaped, never interpreted.
"""
from __future__ import annotations

import base64
import html
import io
import os
import re
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["HtmlReport", "markdown_to_html", "figure_to_data_uri"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #1b1b1b; line-height: 1.45; }
h1 { border-bottom: 2px solid #345; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; padding-bottom: .15em; margin-top: 2em; }
nav ol { columns: 2; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .85em; display: block; overflow-x: auto;
        max-width: 100%; }
th { white-space: nowrap; }
th, td { border: 1px solid #ccc; padding: .2em .55em; text-align: right; }
th { background: #eef2f6; }
td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3em; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #444; }
.guide { background: #f5f8f0; border-left: 4px solid #7a4; padding: .5em 1em; margin: .8em 0; }
.guide h3 { margin: .2em 0 .4em; font-size: 1em; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .85em; }
.meta { color: #555; font-size: .9em; }
"""


def figure_to_data_uri(fig, dpi: int = 100) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _inline(text: str) -> str:
    """Escape, then render ``code`` and **bold** (the only inline markup the reports use)."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def markdown_to_html(text: str, images: dict | None = None, heading_offset: int = 1) -> str:
    """Render the Markdown subset of the study reports; ``images`` maps file names to data URIs.

    Headings move down by ``heading_offset`` levels so a report's ``#`` fits under the page's sections.
    An image whose file is not in ``images`` is named in plain text rather than linked (the page must
    not depend on other files).
    """
    images = images or {}
    blocks, lines, in_code = [], [], False
    for line in text.splitlines():
        if line.startswith("```"):
            if in_code:
                blocks.append("<pre>" + html.escape("\n".join(lines)) + "</pre>")
                lines, in_code = [], False
            else:
                if lines:
                    blocks.append(_paragraph(lines, images, heading_offset))
                lines, in_code = [], True
            continue
        if in_code:
            lines.append(line)
        elif not line.strip():
            if lines:
                blocks.append(_paragraph(lines, images, heading_offset))
            lines = []
        else:
            lines.append(line)
    if lines:
        blocks.append("<pre>" + html.escape("\n".join(lines)) + "</pre>" if in_code
                      else _paragraph(lines, images, heading_offset))
    return "\n".join(blocks)


def _paragraph(lines: list[str], images: dict, offset: int) -> str:
    first = lines[0]
    heading = re.match(r"^(#{1,5})\s+(.*)$", first)
    if heading and len(lines) == 1:
        level = min(len(heading.group(1)) + offset, 6)
        return f"<h{level}>{_inline(heading.group(2))}</h{level}>"
    image = re.match(r"^!\[([^\]]*)\]\(([^)]+)\)$", first.strip())
    if image and len(lines) == 1:
        alt, name = image.groups()
        if name in images:
            return (f'<figure><img alt="{html.escape(alt)}" src="{images[name]}">'
                    f"<figcaption>{html.escape(alt)}</figcaption></figure>")
        return f"<p>(figure {html.escape(name)} not embedded)</p>"
    return "<p>" + _inline(" ".join(lines)) + "</p>"


@dataclass
class _Section:
    title: str
    anchor: str
    body: list = field(default_factory=list)


class HtmlReport:
    """Collects sections, then writes one self-contained HTML file.

    >>> rep = HtmlReport("My study")
    >>> rep.section("Estimates", guide="What the numbers mean and how far to trust them.")
    >>> rep.table(df, caption="Estimates with 95% intervals")
    >>> rep.figure(fig, caption="Forest plot")
    >>> rep.write("report.html")
    """

    def __init__(self, title: str, subtitle: str = ""):
        self.title = title
        self.subtitle = subtitle
        self.sections: list[_Section] = []

    @property
    def _current(self) -> _Section:
        if not self.sections:
            raise ValueError("call section() before adding content to the report.")
        return self.sections[-1]

    def section(self, title: str, guide: str = "") -> "HtmlReport":
        """Start a section; ``guide`` is its reading guide (what the estimate means, how far to trust it)."""
        anchor = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or f"section-{len(self.sections) + 1}"
        self.sections.append(_Section(title, anchor))
        if guide:
            self._current.body.append('<div class="guide"><h3>Reading guide</h3>'
                                      + markdown_to_html(guide, heading_offset=2) + "</div>")
        return self

    def text(self, markdown: str, images: dict | None = None) -> "HtmlReport":
        self._current.body.append(markdown_to_html(markdown, images, heading_offset=2))
        return self

    def table(self, df: pd.DataFrame, caption: str = "", index: bool = False, digits: int = 4) -> "HtmlReport":
        fmt = lambda v: f"{v:.{digits}g}"  # noqa: E731 - pandas wants a callable
        body = df.to_html(index=index, float_format=fmt, border=0, na_rep="", escape=True)
        if caption:
            body = body.replace(">\n", f">\n<caption>{html.escape(caption)}</caption>\n", 1)
        self._current.body.append(body)
        return self

    def figure(self, fig, caption: str = "", dpi: int = 100) -> "HtmlReport":
        self._current.body.append(f'<figure><img alt="{html.escape(caption)}" src="{figure_to_data_uri(fig, dpi)}">'
                                  f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        return self

    def render(self) -> str:
        toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in self.sections)
        parts = [f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>\n' + "\n".join(s.body) + "</section>"
                 for s in self.sections]
        subtitle = f'<p class="meta">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>"
                f"<h1>{html.escape(self.title)}</h1>{subtitle}<nav><h2>Contents</h2><ol>{toc}</ol></nav>"
                + "\n".join(parts) + "</body></html>\n")

    def write(self, path: str) -> str:
        """Write the page (creating its folder); returns the path."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.render())
        return path
