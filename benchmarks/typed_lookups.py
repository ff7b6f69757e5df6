"""How many run-config lookups mypy checks against the declarations (bench/runconfig.py), per module.

    python benchmarks/typed_lookups.py [--top 20]

Copies the package to a temporary folder, empties every section of the run config's types there and runs mypy:
each lookup of a key then fails ("has no key"), so the failures are exactly the lookups in code annotated with
`RunConfig` (directly, or through a section: `t = cfg["train"]; t["lr"]`). Lookups elsewhere (the plan's config
layers, which build dicts; the report, which reads result files of any version) are not counted. About a minute.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def emptied(source: str) -> str:
    """bench/runconfig.py with every section TypedDict holding one placeholder key (RunConfig kept)."""
    out, in_section = [], False
    for line in source.splitlines():
        if line.startswith("class "):
            in_section = line.endswith("Section(TypedDict):")
            out.append(line + ("\n    placeholder_: int" if in_section else ""))
        elif not (in_section and line.startswith("    ")):
            out.append(line)
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT / "bench", Path(tmp) / "bench")
        shutil.copy(ROOT / "pyproject.toml", tmp)
        types = Path(tmp) / "bench" / "runconfig.py"
        types.write_text(emptied(types.read_text()))
        proc = subprocess.run([sys.executable, "-m", "mypy", "bench"], cwd=tmp, capture_output=True, text=True)
    found = [line.split(":")[0] for line in proc.stdout.splitlines() if re.search(r'has no key "', line)]
    per_file = collections.Counter(found)
    print(f"run-config lookups mypy checks: {len(found)} in {len(per_file)} modules")
    for path, n in per_file.most_common(args.top):
        print(f"  {n:4d}  {path}")


if __name__ == "__main__":
    main()
