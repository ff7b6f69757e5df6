"""Which config keys say what a run computes, and which only where or how it executes (the runtime keys):
the run id hashes the first kind, reports compare runs on it, trackers record it."""

from __future__ import annotations

from bench.plan.schema import runtime_keys

# Keys that say where/how a run executes, not what it computes (bench/plan/schema.py: runtime=True): left out of the
# run hash, and runs that differ only in them are the same run (and, in reports, the same setting). Not
# runtime: dataset.split_dir / image_root / path_rewrite (other files can mean other data),
# dataset.eval_split (another evaluation set), loader.decode / reduced_decode (other pixels). loader.workers
# is: every image carries its own augmentation seed, so the worker count does not change a number.
RUNTIME_KEYS = runtime_keys()


def experiment_part(cfg):
    """The part of the config that determines the numbers (no paths, devices, UI). A new dict whose sections are
    copies (one level deep: only section keys are removed or set here); deeper values are shared with `cfg`."""
    exp = {key: dict(value) if isinstance(value, dict) else value for key, value in cfg.items()}
    if isinstance(exp.get("eval"), dict) and exp["eval"].get("selection") == "best_test":
        exp["eval"]["selection"] = "last"  # the same run: both record the last and the best-on-test epoch
    for key, value in _canonical(cfg).items():  # values that make the same run as another (bench/plan/usage.py)
        section, leaf = key.split(".")
        exp[section][leaf] = value
    for key in RUNTIME_KEYS:
        if "." in key:
            section, leaf = key.split(".")
            if isinstance(exp.get(section), dict):
                exp[section].pop(leaf, None)
        else:
            exp.pop(key, None)
    return exp


def _canonical(cfg):
    from bench.errors import BenchError
    from bench.plan.usage import canonical

    try:
        return canonical(cfg)
    except (KeyError, TypeError, AttributeError, BenchError):  # not a whole config (an older bench's): as written
        return {}

