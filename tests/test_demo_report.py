"""`prefstat demo`: the quick report is written, has every section and figure, and opens in headless Chromium
without console errors. One quick demo runs for the whole module (about a minute on 2 cores).

Chromium is Debian's package (`make test` installs it on a fresh machine); the browser is driven by
Playwright's Python client with that executable, so nothing is downloaded at test time. A screenshot of the
top of the page is saved to ``test-artifacts/demo-report-top.png`` (git-ignored).
"""
import contextlib
import io
import os
import pathlib
import re
import shutil

import pandas as pd
import pytest

from prefstat.cli import main
from prefstat.report import HtmlReport, markdown_to_html
from prefstat.report.demo import DEMO_STUDIES

ARTIFACTS = pathlib.Path(__file__).parent.parent / "test-artifacts"
SECTIONS = (["Bradley-Terry on the bundled tables", "Arena leaderboard with style control",
             "Diagnostics: does Bradley-Terry fit the arena?"]
            + [f"Simulation: {d.name}" for d in DEMO_STUDIES])
# bundled tables: 1 forest plot; each study: error, coverage, CI width (+ its extra figures)
MIN_FIGURES = {"bt-coverage": 3, "heterogeneity": 2, "ai-judge": 4, "dipo": 4, "density-ratio": 4}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        code = main(["demo", "--quick", "--out", str(out)])
    return code, buf.getvalue(), out


def test_demo_prints_the_fits_and_where_the_report_is(demo):
    code, printed, out = demo
    assert code == 0
    assert "home advantage: odds x1.353" in printed  # exp(0.3023), Agresti's 0.302
    assert "Comm Statist" in printed
    assert str((out / "index.html").resolve()) in printed


def test_report_has_every_section_and_embedded_figure(demo):
    _, _, out = demo
    page = (out / "index.html").read_text()
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page, title
        assert f'href="#{re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")}"' in page  # in the contents
    assert page.count('class="guide"') == len(SECTIONS)  # a reading guide per section
    sections = re.split(r'<section id="', page)[1:]
    assert len(sections) == len(SECTIONS)
    assert sections[0].count("data:image/png;base64,") >= 1
    assert sections[1].count("data:image/png;base64,") == 1 and "<table" in sections[1]  # the leaderboard
    # the diagnostics: the verdict table (one row per check) and two figures
    assert sections[2].count("data:image/png;base64,") == 2 and "goodness_of_fit" in sections[2]
    for demo_study, body in zip(DEMO_STUDIES, sections[3:]):
        assert body.count("data:image/png;base64,") >= MIN_FIGURES[demo_study.name], demo_study.name
        assert "not embedded" not in body
        assert "<pre>" in body  # the study tables (fixed-width text, as in report.md)
    assert "src=\"http" not in page and "<script" not in page  # self-contained, nothing fetched


def test_raw_results_are_written(demo):
    _, _, out = demo
    for d in DEMO_STUDIES:
        df = pd.read_parquet(out / "results" / f"{d.name}.parquet")
        assert set(df["n"]) == set(d.quick_sizes)
        assert df.groupby(["estimator", "n"]).size().min() >= d.quick_reps
    assert len(pd.read_csv(out / "tables" / "arena_leaderboard.csv")) == 20
    diagnostics = pd.read_csv(out / "tables" / "arena_diagnostics.csv", index_col=0)
    assert set(diagnostics.index) == {"connectivity", "goodness_of_fit", "intransitivity", "position_bias", "ties",
                                      "annotators", "annotator_influence", "clustering"}
    assert set(diagnostics["status"]) <= {"ok", "info", "flagged", "skipped"}
    home = pd.read_csv(out / "tables" / "baseball_home_advantage.csv")
    assert home["home advantage (log-odds)"].iloc[0] == pytest.approx(0.3023, abs=5e-4)


def _chromium() -> str:
    path = os.environ.get("PREFSTAT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium not found: `make test` installs Debian's chromium package; or set PREFSTAT_CHROMIUM "
                    "to a Chromium executable.")
    return path


def test_report_opens_in_headless_chromium_without_errors(demo):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    _, _, out = demo
    problems = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto((out / "index.html").resolve().as_uri())
        images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
        headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo-report-top.png"))
        browser.close()
    assert problems == []
    assert images and all(complete and width > 0 for complete, width in images)  # every figure decodes
    assert set(SECTIONS) <= set(headings)
    assert (ARTIFACTS / "demo-report-top.png").stat().st_size > 10_000


def test_demo_out_that_is_a_file_fails_before_any_work(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("x")
    assert main(["demo", "--out", str(target)]) == 2
    err = capsys.readouterr()
    assert "is an existing file" in err.err and err.out == ""


def test_markdown_subset_is_escaped_not_interpreted():
    out = markdown_to_html("## Title <b>\n\ntext with `code` and **bold** <script>x</script>\n\n```text\na < b\n```\n\n"
                           "![fig](missing.png)")
    assert "<h3>Title &lt;b&gt;</h3>" in out
    assert "<code>code</code>" in out and "<strong>bold</strong>" in out and "<script>" not in out
    assert "<pre>a &lt; b</pre>" in out
    assert "(figure missing.png not embedded)" in out


def test_report_needs_a_section_before_content():
    with pytest.raises(ValueError, match="section"):
        HtmlReport("t").text("x")
