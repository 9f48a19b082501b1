"""Reports: self-contained HTML pages (:class:`HtmlReport`) and the ``prefstat demo`` report (:func:`build_demo`)."""
from .demo import build_demo
from .html import HtmlReport, figure_to_data_uri, markdown_to_html

__all__ = ["HtmlReport", "build_demo", "figure_to_data_uri", "markdown_to_html"]
