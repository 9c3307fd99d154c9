"""The apps form layers: each may import only the apps installed before it (config/settings).

core (audit log, transitions, errors, cache, parser) < accounts < agreements < tracking < billing
< demo. An upward import would make the lower app depend on the one above it, and soon on
itself through it.
"""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
LAYERS = [app for app in settings.INSTALLED_APPS if (ROOT / app / "apps.py").exists()]


def _imported_apps(app: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in LAYERS and top != app:
                    found.setdefault(top, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_layers_are_the_project_apps_in_order():
    assert LAYERS == ["core", "accounts", "agreements", "tracking", "billing", "demo"]


def test_no_app_imports_an_app_above_it():
    upward = {
        f"{app} -> {target}": where
        for level, app in enumerate(LAYERS)
        for target, where in _imported_apps(app).items()
        if LAYERS.index(target) > level
    }
    assert upward == {}
