"""Client time to plan and submit a 1,000-run sweep (dry run, and a real submission to a SLURM cluster).

    slurm/cluster.sh start && export SLURM_CONF=/tmp/bench-slurm/etc/slurm.conf
    python benchmarks/sweep_submit.py [--seeds 100]

10 methods x N seeds (default 100: 1,000 runs) of a 1-epoch small-CNN run on a generated CIFAR-10
fixture. Times `bench run --dry-run` and `bench run --executor slurm` (without --wait) as a user
would type them, then cancels the submitted jobs with `bench cancel`.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import write_cifar  # noqa: E402

METHODS = "erm,resample,reweight,cb,focal,cb_focal,ldam,ldam_drw,drw,drs"


def timed(args):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench {' '.join(args)} failed:\n{proc.stderr}")
    return elapsed, proc.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--profile", default="local")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:  # cancelled jobs may still write
        write_cifar(tmp, "cifar10", per_class_train=100, per_class_test=10)
        out = Path(tmp) / "results"
        base = ["run", "--methods", METHODS, "--datasets", "cifar10_lt", "--seeds",
                ",".join(map(str, range(args.seeds))), "--epochs", "1", "--data-root", tmp, "--out", str(out),
                "--set", "dataset.verify=false", "dataset.download=false", "model.name=small_cnn"]
        n = 10 * args.seeds
        dry, text = timed([*base, "--dry-run"])
        print(f"dry run of {n} runs: {dry:.2f} s wall-clock ({text.strip().splitlines()[-1]})")
        if shutil.which("sbatch") is None:
            print("no sbatch: skipping the real submission")
            return
        real, text = timed([*base, "--executor", "slurm", "--slurm-profile", args.profile])
        print(f"submission of {n} runs: {real:.2f} s wall-clock ({text.strip().splitlines()[0]})")
        cancel, text = timed(["cancel", str(out)])
        print(f"bench cancel: {cancel:.2f} s ({text.strip()[:60]})")


if __name__ == "__main__":
    main()
