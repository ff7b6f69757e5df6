"""Files a run reads besides its data and its config: a pretrained weights file (`model.weights`) and a class-name
file (classnames.txt, categories.json). The run id hashes the path, not the content, so result.json keeps each
file's sha256 (`weights`, `inputs`) and every later command that would keep the finished run checks them: a file
replaced at the same path is one error naming it, never an old result standing for new content. A run resumed on
such a file is refused by its checkpoint's identity (bench/datasets/identity.py)."""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError
from bench.models.pretrained import sha256_file

_SEEN: dict = {}  # (path, size, mtime) -> sha256: many runs share one weights file, hashed once per command


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SEEN:
        _SEEN[key] = sha256_file(path)
    return _SEEN[key]


def recorded(result: dict) -> list[tuple[str, str, str]]:
    """(what, file, sha256) of every file the finished run recorded reading (downloaded hub weights aside: their
    tag names them)."""
    out = []
    weights = result.get("weights")
    if isinstance(weights, dict) and weights.get("source") == "file" and weights.get("file") and weights.get("sha256"):
        out.append(("weights file", str(weights["file"]), str(weights["sha256"])))
    for item in result.get("inputs") or []:
        if isinstance(item, dict) and item.get("file") and item.get("sha256"):
            out.append((f"{item.get('what', 'input')} file", str(item["file"]), str(item["sha256"])))
    return out


def check_unchanged(run_dir: Path, result: dict) -> None:
    """BenchError when a file the finished run read has other content now (a file that is gone is no longer read
    by anything: nothing to compare)."""
    for what, file, sha in recorded(result):
        path = Path(file)
        if path.is_file() and _sha256(path) != sha:
            raise BenchError(f"run {Path(run_dir).name} was computed from the {what} {file}, which has changed since "
                             f"(sha256 {sha[:12]}... then, {_sha256(path)[:12]}... now); restore the file, re-run "
                             "with --force to compute it from the new one, or give the new file another path (another "
                             "run)")
