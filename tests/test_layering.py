"""Layering: no prefstat module uses a private (underscore) name of another prefstat module.

If two modules need the same piece it becomes a public name in a shared layer (DESIGN.md,
"A module uses only the layers below it, through public names"). The scan reads every module's
syntax tree and flags

* ``from .x import _y`` / ``from prefstat.x import _y`` (a private name imported from another module),
* ``from . import _y`` where ``_y`` is not a module of the package (``prefstat._x64`` is a module
  whose public names are used, as ``from .._x64 import x64``: that is not private use),
* ``m._y`` where ``m`` is bound by ``import prefstat.x as m`` / ``from . import x as m`` / ``from prefstat import x``.

Dunder names (``__version__``) are not private.
"""
from __future__ import annotations

import ast
import pathlib
import re
from pathlib import Path

import prefstat

PACKAGE = pathlib.Path(prefstat.__file__).parent


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(root: pathlib.Path, path: pathlib.Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(package: str, module: str, node: ast.ImportFrom, is_package: bool) -> str | None:
    """Absolute name of the module an ImportFrom reads from, or None when it is outside the package."""
    if node.level == 0:
        target = node.module or ""
        return target if target == package or target.startswith(package + ".") else None
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_module(root: pathlib.Path, name: str) -> bool:
    rel = pathlib.Path(*name.split(".")[1:])
    return (root / rel).with_suffix(".py").exists() or (root / rel / "__init__.py").exists()


def offenders(root: pathlib.Path = PACKAGE) -> list[str]:
    """Every use of another module's private name in the package rooted at ``root``."""
    package = root.name
    found = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(root, path)
        where = path.relative_to(root.parent)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        module_aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _resolve(package, module, node, is_package)
                if source is None:
                    continue
                for alias in node.names:
                    if _is_module(root, f"{source}.{alias.name}"):  # a submodule: attributes checked below
                        module_aliases.add(alias.asname or alias.name)
                    elif _private(alias.name) and source != module:
                        found.append(f"{where}:{node.lineno}: from {source} import {alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == package or alias.name.startswith(package + "."):
                        module_aliases.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in module_aliases and _private(node.attr)
                    and not _is_module(root, f"{package}.{node.attr}")):
                found.append(f"{where}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_scanner_finds_each_kind_of_private_use(tmp_path):
    # The scan can fail: a toy package with one offence of each kind (and allowed uses) is checked.
    root = tmp_path / "toy"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("from .a import public\n")
    (root / "_priv.py").write_text("helper = 1\n")
    (root / "a.py").write_text("def public(): pass\ndef _hidden(): pass\n_hidden()\n")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "b.py").write_text(
        "from ..a import _hidden\n"            # offence 1: relative import of a private name
        "from toy.a import public, _hidden as h\n"  # offence 2: absolute import
        "from .. import a\n"
        "a._hidden()\n"                        # offence 3: attribute access on a package module
        "from .._priv import helper\n"         # allowed: public name of a private-named module
        "import toy.a as ta\n"
        "ta._hidden\n"                         # offence 4
        "__all__ = []\n")
    bad = offenders(root)
    assert len(bad) == 4, bad
    assert all("sub/b.py" in b for b in bad)


def test_no_module_imports_a_private_name_of_another():
    bad = offenders()
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


def _slug(heading: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_docstrings_point_to_the_shipped_methods_file():
    """Docstrings cite docs/methods.md (shipped in the repository), never the private METHODS.md,
    and every ``docs/methods.md#anchor`` they cite is a heading of that file."""
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "methods.md").read_text()
    anchors = {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.+)$", doc, re.M)}
    stale, missing = [], []
    for path in sorted((root / "prefstat").rglob("*.py")):
        text = path.read_text()
        if "METHODS.md" in text:
            stale.append(str(path.relative_to(root)))
        for m in re.finditer(r"docs/methods\.md#([\w-]+)", text):
            if m.group(1) not in anchors:
                missing.append(f"{path.relative_to(root)}: #{m.group(1)}")
    assert not stale, f"files citing the unshipped METHODS.md: {stale}"
    assert not missing, f"anchors not in docs/methods.md: {missing}"
