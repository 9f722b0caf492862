"""The layers' import rules (docs/architecture.md), read from the source, so a shortcut fails here.

- No adapter (CLI, API, web) imports the store: adapters call services.
- The web app imports no API route module: what both serve lives in shared, non-route modules
  (``adapters/api/submissions.py``, ``claim_views.py``, ``routes/_common.py``, ``deps.py``, ``models.py``).
- Services, engines, formats, io, store and domain import no adapter.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "consentry"


def _imports(path: Path) -> set[str]:
    """Every module name ``path`` imports (absolute, and relative ones resolved), at any depth in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(("consentry",) + path.relative_to(SRC).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _modules(folder: str) -> list[Path]:
    return sorted((SRC / folder).rglob("*.py"))


def test_the_rules_see_imports():
    """The reader finds a known import (so the rules below are not vacuous)."""
    found = _imports(SRC / "adapters" / "web" / "routes.py")
    assert "consentry.adapters.api.submissions" in found
    assert any(name.startswith("consentry.services") for name in found)


@pytest.mark.parametrize("path", _modules("adapters"), ids=lambda p: str(p.relative_to(SRC)))
def test_adapters_do_not_import_the_store(path):
    bad = sorted(n for n in _imports(path) if n == "consentry.store" or n.startswith("consentry.store."))
    assert bad == [], f"{path.relative_to(SRC)} imports {bad}: call a service instead"


@pytest.mark.parametrize("path", _modules("adapters/web"), ids=lambda p: str(p.relative_to(SRC)))
def test_the_web_app_calls_no_api_route(path):
    routes = "consentry.adapters.api.routes"
    bad = sorted(n for n in _imports(path)
                 if n.startswith(routes + ".") and not n.startswith(routes + "._common"))
    assert bad == [], f"{path.relative_to(SRC)} imports {bad}: move what both need out of the route module"


@pytest.mark.parametrize("layer", ["domain", "engines", "formats", "io", "store", "services", "reporting"])
def test_inner_layers_import_no_adapter(layer):
    bad = {str(p.relative_to(SRC)): sorted(n for n in _imports(p) if n.startswith("consentry.adapters"))
           for p in _modules(layer)}
    bad = {k: v for k, v in bad.items() if v}
    assert bad == {}, bad
