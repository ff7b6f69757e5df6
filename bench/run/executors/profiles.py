"""SLURM profiles: YAML files in slurm/ naming partition, resources and setup lines."""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError, closest

DEFAULTS: dict[str, object] = {
    "partition": None, "account": None, "qos": None, "constraint": None, "gpus": 0, "cpus_per_task": 1,
    "mem_gb": 4, "time_min": 60, "array_parallelism": 16, "runs_per_job": 1, "tasks_per_job": 1, "max_requeues": 3,
    "setup": [], "sbatch": {},
}
POSITIVE = ("cpus_per_task", "time_min", "array_parallelism", "runs_per_job", "tasks_per_job")


def profile_dirs():
    return [Path.cwd() / "slurm", Path(__file__).resolve().parents[3] / "slurm"]


def available():
    names: set[str] = set()
    for folder in profile_dirs():
        names.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(names)


def find_profile(name):
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    for folder in profile_dirs():
        if (folder / f"{name}.yaml").is_file():
            return folder / f"{name}.yaml"
    raise BenchError(f"unknown SLURM profile {name!r}{closest(name, available())}; profiles are YAML files in "
                     f"slurm/ (have: {', '.join(available()) or 'none'}); copy slurm/example.yaml")


def load_profile(name):
    path = find_profile(name)
    from bench.plan.config import load_yaml

    data = load_yaml(path, "SLURM profile")
    if not isinstance(data, dict):
        raise BenchError(f"SLURM profile {path} must be a YAML mapping")
    unknown = set(data) - set(DEFAULTS)
    if unknown:
        key = sorted(unknown)[0]
        raise BenchError(f"SLURM profile {path} has unknown key {key!r}{closest(key, DEFAULTS)}; "
                         f"see slurm/example.yaml")
    profile = {**DEFAULTS, **data, "name": path.stem, "path": str(path)}
    for key in POSITIVE:
        if not isinstance(profile[key], int) or isinstance(profile[key], bool) or profile[key] < 1:
            raise BenchError(f"SLURM profile {path}: {key} must be a positive integer, got {profile[key]!r}")
    for key in ("gpus", "max_requeues"):
        if not isinstance(profile[key], int) or profile[key] < 0:
            raise BenchError(f"SLURM profile {path}: {key} must be a non-negative integer, got {profile[key]!r}")
    if not isinstance(profile["mem_gb"], (int, float)) or profile["mem_gb"] <= 0:
        raise BenchError(f"SLURM profile {path}: mem_gb must be positive, got {profile['mem_gb']!r}")
    if profile["tasks_per_job"] > 1 and profile["runs_per_job"] > 1:
        raise BenchError(f"SLURM profile {path}: tasks_per_job > 1 (one run on several GPUs) and runs_per_job > 1 "
                         "(several runs on one GPU) cannot be combined; choose one")
    if not isinstance(profile["setup"], list) or not isinstance(profile["sbatch"], dict):
        raise BenchError(f"SLURM profile {path}: setup must be a list of lines and sbatch a mapping")
    return profile
