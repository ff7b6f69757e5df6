"""GPU readiness: one script that exercises bench's CUDA paths and measures them, in a few minutes, offline.

    python benchmarks/gpu_check.py --out gpu-check                      # on a CUDA machine: about 5 minutes
    python benchmarks/gpu_check.py --device cpu --quick --out /tmp/gc   # the same checks on the CPU (the tests)

It generates its own fixtures (CIFAR-format pickles, JPEG image lists), needs no download and no installed
bench (it runs from the checkout), and writes `gpu_check.json` and `gpu_check.md` into --out after every check,
so a run cut short still reports what it did. Checks (benchmarks/gpu_correct.py, benchmarks/gpu_speed.py):

correctness, against the CPU path
  augment     on-device crop/flip/normalise, AutoAugment + Cutout, RandAugment, rotation and the contrastive views
              with the same generator on the CPU and on the device: the same pixels (or how many differ)
  jpeg        the device JPEG decoder (nvJPEG on CUDA) against the CPU decoder (libjpeg-turbo): pixel differences
  families    a 2-epoch run of one method of every family (one-stage, DRW, mixing, post-hoc, stage-2, SAM,
              multi-expert, contrastive, foundation-model: lift on a toy CLIP) under fp32, bf16 and fp16: finished,
              finite numbers
  imagelist   a 2-epoch image-list (ImageNet-LT format) run decoding in the workers and on the device
  resume      a run stopped mid-epoch (SIGTERM) and resumed against an uninterrupted run and a second one
  fashion     the README's demo on real Fashion-MNIST files, when they are there (or carried as gpu-data/)
  compile     run.compile=true trains and gives finite numbers
speed (ratios, one process)
  step        bench's epoch against the bare model step: ResNet-32 at 32 px (fp32, bf16), ResNet-50 at 224 px (bf16)
  loader      the image-list loader's images/s (CPU decode in workers; device decode) against ResNet-50's step
  packing     1, 2, 4, 8 runs packed on one device as the SLURM profile's runs_per_job starts them
  foundation  lift and full_finetune on CLIP ViT-B/16 (no weights), batch 128: train images/s and peak memory
  ddp         2 processes (NCCL), when 2 GPUs are present
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(HERE)]
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, for the resume check

import gpu_correct  # noqa: E402
import gpu_speed  # noqa: E402
import torch  # noqa: E402
from gpu_common import Context, Skip  # noqa: E402

CHECKS = {  # in this order: the most telling first, so a run cut short has them
    "augment": gpu_correct.augment, "jpeg": gpu_correct.jpeg, "families": gpu_correct.families,
    "resume": gpu_correct.resume, "imagelist": gpu_correct.imagelist, "fashion": gpu_correct.fashion,
    "step": gpu_speed.step,
    "loader": gpu_speed.loader, "compile": gpu_correct.compile_check, "packing": gpu_speed.packing,
    "foundation": gpu_speed.foundation, "ddp": gpu_speed.ddp,
}


def environment(device: torch.device) -> dict:
    """Versions and hardware, recorded beside the figures."""
    import torchvision

    env = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": platform.python_version(),
           "torch": torch.__version__, "torchvision": torchvision.__version__, "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version(), "device": str(device), "cpus": os.cpu_count(),
           "cpu": gpu_speed.cpu_name()}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["gpus"] = torch.cuda.device_count()
        env["capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
        env["memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30)
            env["driver"] = smi.stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            env["driver"] = "unknown (no nvidia-smi)"
    return env


class Report:
    """The checks' outcomes, rewritten as JSON and Markdown after each one."""

    def __init__(self, out: Path, env: dict, quick: bool):
        self.out, self.env, self.quick, self.checks = out, env, quick, []

    def run(self, name: str, check, ctx: Context) -> None:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        try:
            details = check(ctx)
            status = details.pop("status", "pass")
        except Skip as skip:
            details, status = {"summary": f"skipped: {skip}"}, "skip"
        except Exception as exc:  # noqa: BLE001 - recorded; the other checks go on
            tail = traceback.format_exc().strip().splitlines()[-6:]
            details, status = {"summary": f"{type(exc).__name__}: {exc}"[:300], "traceback": tail}, "fail"
        seconds = round(time.perf_counter() - start, 1)
        self.checks.append({"name": name, "status": status, "seconds": seconds, **details})
        print(f"   {status.upper()} in {seconds} s: {details.get('summary', '')}", flush=True)
        self.write()

    def write(self) -> None:
        data = {"environment": self.env, "quick": self.quick, "checks": self.checks}
        (self.out / "gpu_check.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
        (self.out / "gpu_check.md").write_text(self.markdown())

    def markdown(self) -> str:
        e = self.env
        where = (f"{e.get('gpu')} (compute capability {e.get('capability')}, {e.get('memory_gib')} GiB, driver "
                 f"{e.get('driver')}), {e.get('gpus')} GPU(s)" if "gpu" in e else "CPU only")
        lines = [f"### GPU check, {e['date']}{' (quick)' if self.quick else ''}", "",
                 f"{where}; {e['cpus']} CPUs ({e['cpu']}); Python {e['python']}, torch {e['torch']} (CUDA "
                 f"{e['cuda']}, cuDNN {e['cudnn']}), torchvision {e['torchvision']}; device `{e['device']}`.", "",
                 "| check | status | s | result |", "|---|---|---|---|"]
        for c in self.checks:
            lines.append(f"| {c['name']} | {c['status']} | {c['seconds']} | {c.get('summary', '')} |")
        return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: the same checks in about a minute")
    parser.add_argument("--out", default="gpu-check", help="folder for gpu_check.json and gpu_check.md")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(CHECKS)}")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(CHECKS)
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        print(f"gpu_check: unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU is visible; run with --device cpu --quick for the CPU path", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out, environment(device), args.quick)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(device, args.quick, Path(tmp))
        for name in names:
            report.run(name, CHECKS[name], ctx)
    print((out / "gpu_check.md").read_text())
    return 1 if any(c["status"] == "fail" for c in report.checks) else 0


if __name__ == "__main__":
    sys.exit(main())
