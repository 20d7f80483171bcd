"""The shape of the code, checked: what the hot path may import, and no import cycle between
apps. Both read the source (every import, including those inside functions), so a lazy import
cannot hide a dependency."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "hotpath",
    "orgs",
    "secrets_vault",
    "pricing",
    "policies",
    "tracing",
    "proxy",
    "model_routes",
    "rollout",
    "api",
    "accounts",
    "overview",
    "devtools",
    "gateway_site",
)
# What renders HTML or serves the management API: never on the path of a proxied call.
FORBIDDEN = (
    "django.contrib.admin",
    "django.forms",
    "django.template",
    "django.shortcuts",
    "django.views",
    "rest_framework",
    "drf_spectacular",
)
FORBIDDEN_PROJECT_SUFFIXES = (".admin", ".forms", ".views", ".serializers", ".urls")


def _module_path(module: str) -> Path | None:
    base = ROOT / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path, module: str) -> list[str]:
    """Every module `path` imports at run time (TYPE_CHECKING blocks left out)."""
    tree = ast.parse(path.read_text())
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for child in node.body for n in ast.walk(child))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append(base)
            # `from package import module` imports that module too
            found += [
                f"{base}.{alias.name}"
                for alias in node.names
                if _module_path(f"{base}.{alias.name}")
            ]
    return found


def _hot_path_roots() -> list[str]:
    gates = [path.rpartition(".")[0] for path in settings.GATEWAY_PROXY_GATES]
    proxy = [
        f"proxy.{p.stem}"
        for p in (ROOT / "proxy").glob("*.py")
        if p.stem not in ("__init__", "apps")
    ]
    providers = [f"proxy.providers.{p.stem}" for p in (ROOT / "proxy" / "providers").glob("*.py")]
    hotpath = [f"hotpath.{p.stem}" for p in (ROOT / "hotpath").glob("*.py")]
    return sorted({*gates, *proxy, *providers, *hotpath, "tracing.shipping"})


def test_nothing_on_a_proxied_call_imports_the_admin_forms_templates_or_the_api() -> None:
    """From the proxy, the kernel and every gate that runs on each call, follow the project's
    own imports transitively: none may reach what renders HTML or serves the REST API."""
    seen: dict[str, str] = {}
    todo = [(m, "(root)") for m in _hot_path_roots()]
    problems = []
    while todo:
        module, importer = todo.pop()
        if module in seen:
            continue
        seen[module] = importer
        if module.startswith(FORBIDDEN) or (
            module.split(".")[0] in APPS and module.endswith(FORBIDDEN_PROJECT_SUFFIXES)
        ):
            problems.append(f"{importer} imports {module}")
            continue
        path = _module_path(module)
        if path is None or module.split(".")[0] not in APPS:
            continue
        todo += [(name, module) for name in _imports(path, module)]
    assert problems == []
    assert "policies.spend.gate" in seen and "policies.redaction.gate" in seen


def _app_graph() -> dict[str, set[tuple[str, str]]]:
    edges: dict[str, set[tuple[str, str]]] = {app: set() for app in APPS}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            module = ".".join(p for p in parts if p != "__init__")
            for name in _imports(path, module):
                target = name.split(".")[0]
                if target in APPS and target != app:
                    edges[app].add((target, f"{module} → {name}"))
    return edges


def test_no_import_cycle_between_apps() -> None:
    """Apps depend in one direction (platform apps → kernel; proxy → platform apps; the site
    → everything); `gateway_site` is the composition root and nothing imports it."""
    edges = _app_graph()
    graph = {app: {t for t, _ in targets} for app, targets in edges.items()}
    importers_of_site = [
        why for app in APPS if app != "gateway_site" for t, why in edges[app] if t == "gateway_site"
    ]
    assert importers_of_site == []

    cycles = []

    def visit(app: str, path: list[str]) -> None:
        for target in sorted(graph[app]):
            if target in path:
                cycles.append([*path[path.index(target) :], target])
            elif len(path) < len(APPS):
                visit(target, [*path, target])

    for app in APPS:
        visit(app, [app])
    detail = {
        " → ".join(c): [why for a, b in itertools.pairwise(c) for t, why in edges[a] if t == b][:4]
        for c in cycles
    }
    assert cycles == [], detail
