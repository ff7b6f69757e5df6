"""YAML as bench reads what a user types (config files, sweep files, --set and --grid values).

PyYAML follows YAML 1.1, where numbers have surprising spellings: `1_0` is 10, `010` is 8, `1:30` is 90,
`0x10` is 16, while `1e-4` is text. bench reads numbers as YAML 1.2 and Python's float() write them:
`1`, `-3`, `0.5`, `.5`, `1e-4`, `2.0E5`, `.inf`; any other spelling stays text, which the config's type
check then refuses in one line (`config key train.epochs must be an integer, got '1_0'`).
"""

from __future__ import annotations

import re

import yaml

INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"


class Loader(yaml.SafeLoader):
    """SafeLoader with plain decimal ints and floats only."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (INT, FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(INT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
Loader.add_implicit_resolver(
    FLOAT, re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?[0-9]+[eE][-+]?[0-9]+$"
                      r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"), list("-+0123456789."))


def _construct_int(loader, node):
    return int(loader.construct_scalar(node))


Loader.add_constructor(INT, _construct_int)


def load(text: str):
    """The YAML value of `text` (safe: plain data only, as yaml.safe_load)."""
    loader = Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
