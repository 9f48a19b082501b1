"""The API reference builds with warnings as errors and documents every public name.

``sphinx-build -W -b html docs <tmp>``: autodoc + napoleon over the docstrings, docs/methods.md through
myst-parser. A docstring that docutils cannot parse (an unbalanced ``|x|``, a trailing ``name_``
read as a link target, a paragraph running into a field list) fails the build.
"""
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent
DOCS = ROOT / "docs"


def documented_names() -> set:
    """Last components of every object named by an auto* directive under docs/api."""
    names = set()
    for page in (DOCS / "api").glob("*.rst"):
        for match in re.finditer(r"^\.\. auto(?:class|function|module):: (\S+)", page.read_text(), re.M):
            names.add(match.group(1).rsplit(".", 1)[-1])
    return names


def test_every_public_name_has_an_api_entry():
    import prefstat
    import prefstat.models

    public = set(prefstat.__all__) | set(prefstat.models.__all__)
    missing = sorted(public - documented_names())
    assert not missing, f"public names without an entry in docs/api/*.rst: {missing}"


@pytest.mark.slow  # about 20 s of CPU (imports the package and renders ~1,300 lines of methods.md)
def test_sphinx_build_without_warnings(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q", str(DOCS),
                           str(tmp_path / "html")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-5000:]
    methods = (tmp_path / "html" / "methods.html").read_text()
    assert 'id="sign-estimator"' in methods and 'class="math' in methods  # headings anchored, math rendered
    api = (tmp_path / "html" / "api" / "estimators.html").read_text()
    assert "prefstat.BradleyTerry" in api
