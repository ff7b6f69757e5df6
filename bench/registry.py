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
