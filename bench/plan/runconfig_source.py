"""Writes bench/runconfig.py, the run config's types, from the declarations: every section's keys and types from
bench/plan/schema.py, the method section's from the built-in parts' Params (bench/parts/, bench/algorithms/).

    python -m bench.plan.runconfig_source > bench/runconfig.py

tests/test_architecture.py checks that the file is what this prints (with no plugin loaded), so a key added to the
schema or a Param is typed at once, and mypy checks every `cfg["section"]["key"]` lookup of code annotated with
`RunConfig` against the declarations.
"""

from __future__ import annotations

from bench.methods.registry import PARTS
from bench.parts.part import DEFAULT_PART
from bench.plan import schema

HEADER = '''"""The run config's types, generated from the declarations (do not edit: `python -m
bench.plan.runconfig_source` writes it). A resolved run config (bench.plan.config.resolve) is a plain dict of these
sections, every key present. Code that reads a config annotates it `RunConfig`, so mypy checks each
`cfg["section"]["key"]` against the schema (bench/plan/schema.py) and the built-in parts' Params."""

from __future__ import annotations

from typing import Any, TypedDict'''


def annotation(types: tuple) -> str:
    """The Python type of a key that accepts `types` (a float accepts ints: `float` covers both)."""
    names = []
    for t in types:
        name = {type(None): "None", list: "list[Any]", dict: "dict[str, Any]"}.get(t, t.__name__)
        if not (name == "int" and float in types) and name not in names:
            names.append(name)
    return " | ".join(names)


def section_class(name: str, fields: dict[str, str]) -> str:
    import keyword

    bad = [key for key in fields if not key.isidentifier() or keyword.iskeyword(key)]
    if bad:
        raise ValueError(f"{name}: config keys {bad} are not Python identifiers")
    lines = [f"class {name}(TypedDict):"] + [f"    {key}: {value}" for key, value in fields.items()]
    return "\n".join(lines)


def sections() -> dict[str, dict[str, str]]:
    """{section: {key: annotation}} of every section, the method section first (as in a resolved config)."""
    method: dict[str, str] = {"name": "str"}
    method.update({kind: "str" for kind in DEFAULT_PART})
    method.update({key: annotation(param.allowed_types() + ((type(None),) if param.default is None else ()))
                   for key, param in PARTS.params.items()})
    out: dict[str, dict[str, str]] = {"method": method}
    for key in schema.KEYS:
        section, name = key.name.split(".", 1)
        types = key.types or ((float, int) if isinstance(key.default, float) else (type(key.default),))
        out.setdefault(section, {})[name] = annotation(types)
    return out


def render() -> str:
    parts = [HEADER]
    classes = {section: f"{section.capitalize()}Section" for section in sections()}
    for section, fields in sections().items():
        parts.append("\n\n" + section_class(classes[section], fields))
    parts.append("\n\n" + section_class("RunConfig", dict(classes)))
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(render(), end="")
