"""A tiny name -> entry registry with helpful errors for unknown names."""

from __future__ import annotations

from typing import Any

from bench.errors import unknown


class Registry(dict):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str, entry: Any) -> Any:
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self[name] = entry
        return entry

    def get_or_fail(self, name: str) -> Any:
        if name not in self:
            raise unknown(self.kind, name, self.keys())
        return self[name]


def declared(module: Any, entry_type: type, attributes: tuple = ("PARTS", "PART")) -> list:
    """The entries of `entry_type` a module declares under the first of `attributes` it has (a tuple, or one
    entry): PARTS, where a module declares several parts (it may also name one of them PART), else PART. A name
    bound to something else (a registry the module imports) is not a declaration; a list, or a tuple holding
    anything but `entry_type`, is a mistake and refused."""
    for attribute in attributes:
        value = getattr(module, attribute, None)
        if isinstance(value, entry_type):
            return [value]
        if isinstance(value, list) or (isinstance(value, tuple) and not all(isinstance(e, entry_type) for e in value)):
            raise TypeError(f"{module.__name__}.{attribute} must be a tuple of {entry_type.__name__} (or one)")
        if isinstance(value, tuple):
            return list(value)
    return []


def discover(package: str, entry_type: type, attributes: tuple = ("PARTS", "PART")) -> list:
    """The registration mechanism of bench's extension points: every `entry_type` the modules of `package` declare
    (bench.registry.declared: PARTS or PART for parts, METHOD for a method, STAGES for stage computations), in
    module-name order. Modules whose name starts with `_`, and modules that declare none (shared helpers), add
    nothing. Adding an entry is adding a file: nothing else names it."""
    import importlib
    import pkgutil

    found: list = []
    for info in sorted(pkgutil.iter_modules(importlib.import_module(package).__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            found.extend(declared(importlib.import_module(f"{package}.{info.name}"), entry_type, attributes))
    return found
