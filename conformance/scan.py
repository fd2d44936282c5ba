"""Reading codes and operation parameter names out of the services' source, so they cannot drift.

Some local codes are not enums but literals where the service writes them (a Task output type,
a Communication category); some operation parameters are visible only where a service reads
them (`params.code("reason", required=True)`). These helpers find them with `ast`.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

# The methods of `services.kit.parameters.Params` and of the services' own readers (careplans'
# `Parts`, transitions' `inputs`) that take a parameter's name as their first argument.
READ_METHODS = frozenset(
    {
        "string",
        "code",
        "reference",
        "boolean",
        "integer",
        "datetime",
        "date",
        "parts",
        "all",
        "each",
        "has",
        "moment",
        "strings",
        "references",
        "required_string",
        "required_code",
        "required_reference",
        "required_moment",
    }
)
# Module-level readers that take (params, name, ...).
READ_FUNCTIONS = frozenset({"codes", "references", "participants", "patient_reference", "_one"})


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _path(module: str | ModuleType) -> Path:
    found = importlib.import_module(module) if isinstance(module, str) else module
    assert found.__file__ is not None
    return Path(found.__file__)


def package_modules(package: str) -> list[str]:
    """The dotted names of every module directly in a package (sorted)."""
    folder = _path(package).parent
    return [f"{package}.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem != "__init__"]


def _calls(modules: Iterable[str]) -> Iterator[ast.Call]:
    for module in modules:
        for node in ast.walk(_tree(_path(module))):
            if isinstance(node, ast.Call):
                yield node


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def literal_arguments(modules: Iterable[str], functions: Iterable[str], position: int) -> set[str]:
    """String literals passed at `position` to calls of any of `functions`."""
    wanted = set(functions)
    found = set()
    for call in _calls(modules):
        if _name(call.func) in wanted and len(call.args) > position:
            text = _text(call.args[position])
            if text is not None:
                found.add(text)
    return found


def concept_codes(modules: Iterable[str], system_constant: str) -> set[str]:
    """Codes written as `concept(SYSTEM, "code", ...)` or `coding(SYSTEM, "code", ...)`."""
    found = set()
    for call in _calls(modules):
        if _name(call.func) not in ("concept", "coding") or len(call.args) < 2:
            continue
        system = call.args[0]
        if isinstance(system, ast.Name) and system.id == system_constant:
            text = _text(call.args[1])
            if text is not None:
                found.add(text)
    return found


def value_items(modules: Iterable[str]) -> set[str]:
    """Kinds written as `("kind", {"valueX": ...})` pairs (a Task output a service records)."""
    found = set()
    for module in modules:
        for node in ast.walk(_tree(_path(module))):
            if not (isinstance(node, ast.Tuple) and len(node.elts) == 2):
                continue
            kind, value = node.elts
            text = _text(kind)
            if text is None or not isinstance(value, ast.Dict) or not value.keys:
                continue
            key = _text(value.keys[0]) if value.keys[0] is not None else None
            if key is not None and key.startswith("value"):
                found.add(text)
    return found


def parameter_names(modules: Iterable[str]) -> set[str]:
    """Every operation parameter name the modules read (`params.code("reason")`, `"x" in params` ...)."""
    names = set()
    for call in _calls(modules):
        name = _name(call.func)
        if isinstance(call.func, ast.Attribute) and name in READ_METHODS and call.args:
            text = _text(call.args[0])
            if text is not None:
                names.add(text)
        elif name in READ_FUNCTIONS and len(call.args) >= 2:
            text = _text(call.args[1])
            if text is not None:
                names.add(text)
    for module in modules:
        for node in ast.walk(_tree(_path(module))):
            if (
                isinstance(node, ast.Compare)
                and len(node.ops) == 1
                and isinstance(node.ops[0], ast.In)
                and isinstance(node.comparators[0], ast.Name)
                and node.comparators[0].id == "params"
            ):
                text = _text(node.left)
                if text is not None:
                    names.add(text)
    return names
