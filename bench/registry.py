"""A tiny name -> entry registry with helpful errors for unknown names."""

from bench.errors import unknown


class Registry(dict):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def register(self, name, entry):
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self[name] = entry
        return entry

    def get_or_fail(self, name):
        if name not in self:
            raise unknown(self.kind, name, self.keys())
        return self[name]
