"""The README is a quick start whose commands are the real ones; the docs site builds with no broken link."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def setup_commands():
    """The command lines of the README's set-up block (comments left out)."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Set-up: two commands", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.strip().splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_is_a_quick_start_with_the_two_set_up_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 200
    install_and_demo, tests = setup_commands()
    assert install_and_demo.endswith("pip install -e . && bench run --methods erm,ldam_drw --datasets "
                                     "fashion_mnist_lt --preset quick")
    assert tests == "pip install -e '.[test]' && python -m pytest -q -n 2"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -q -e '.[test]'" in ci and "\npython -m pytest -q -n 2\n" in ci  # the same pytest
    assert ".ci/readme_quick_start" in ci  # CI runs the README's first command verbatim, then its reports


def test_user_facing_text_names_no_internal_issue():
    pages = [ROOT / "README.md", ROOT / "TESTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        found = re.search(r"\b[Ii]ssues? #?\d+|#\d{1,3}\b", page.read_text())
        assert found is None, f"{page.name}: {found.group()}"


def test_the_docs_site_builds_strictly(tmp_path):
    if not _module("mkdocs"):
        if os.environ.get("CI"):
            pytest.fail("CI installs the test extra, which includes mkdocs-material")
        pytest.skip("mkdocs is not installed (pip install -e '.[test]' installs it)")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    built = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("index.html")}
    assert {"index.html", "running/index.html", "reports/index.html", "install/index.html"} <= built


def _module(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_the_recipes_page_is_the_method_declarations():
    """docs/recipes.md is generated from the same declarations as `bench list recipes` (one source of truth for the
    recipes and the deviations): regenerate it with `python -m bench.methods.describe > docs/recipes.md`."""
    env = {k: v for k, v in os.environ.items() if k != "BENCH_PLUGINS"}
    proc = subprocess.run([sys.executable, "-m", "bench.methods.describe"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120, check=True)
    assert proc.stdout == (ROOT / "docs" / "recipes.md").read_text(), \
        "docs/recipes.md is stale: python -m bench.methods.describe > docs/recipes.md"
    listed = subprocess.run([sys.executable, "-m", "bench", "list", "recipes"], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120, check=True).stdout
    deviations = [line.split("deviation: ", 1)[1] for line in listed.splitlines() if "deviation: " in line]
    assert deviations and all(f"- {d}" in proc.stdout for d in deviations)
