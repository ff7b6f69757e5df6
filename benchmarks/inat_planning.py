"""iNaturalist-2018-size planning: time and peak memory of bench's annotation handling at full size.

Writes iNat-2018-shaped COCO annotation files (437,513 train entries over 8,142 classes, 1,000 down
to 2 images a class; 24,426 val entries, 3 a class; file paths only, no images), then measures, each
in a fresh process (so peak RSS is that step's alone):

  load    read both JSON files as bench does (bench.datasets.imagelist.read_coco), the split checks
          (check_facts: entry and class counts against the published ones), per-class counts and
          shot groups
  plan    `bench run --methods erm,ldam_drw --datasets inat2018 --seeds 0,1,2 --dry-run`

Image files are not generated, so the per-image existence check of a real load is not measured.

    python benchmarks/inat_planning.py [--dir /tmp/inat-shaped]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

TRAIN, CLASSES, VAL_PER_CLASS = 437_513, 8_142, 3

PLAN = """
import json, resource, sys, time
from bench.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(json.dumps({"seconds": time.perf_counter() - start, "code": code,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LOAD = """
import json, resource, sys, time
import numpy as np
from bench.datasets.imagelist import SPECS, check_facts, read_coco
from bench.metrics.evaluate import shot_groups
start = time.perf_counter()
folder = sys.argv[1]
train, names = read_coco(f"{folder}/train2018.json")
val, _ = read_coco(f"{folder}/val2018.json")
check_facts(SPECS["inat2018"], "train", f"{folder}/train2018.json", train, True)
check_facts(SPECS["inat2018"], "val", f"{folder}/val2018.json", val, True)
counts = np.bincount([label for _, label in train], minlength=len(names)).tolist()
groups = shot_groups(counts)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "train": len(train), "val": len(val), "classes": len(names),
                  "groups": {g: len(c) for g, c in groups.items()}, "max": max(counts), "min": min(counts)}))
"""


def class_sizes():
    """1,000 down to 2 images a class, n_r = 1000 (2/1000)^((r/(C-1))^p) with p fitted so that the sizes sum to
    437,513 (a power-law tail as in iNat 2018), the rounding difference taken from the largest classes."""
    import numpy as np

    ranks = np.arange(CLASSES) / (CLASSES - 1)

    def sizes_for(p):
        return np.maximum(2, np.round(1000.0 * (2 / 1000.0) ** (ranks ** p))).astype(int)

    low, high = 0.3, 0.7
    for _ in range(60):  # the sum grows with p: bisection
        mid = (low + high) / 2
        low, high = (mid, high) if sizes_for(mid).sum() < TRAIN else (low, mid)
    sizes = sizes_for(low)
    excess = int(sizes.sum()) - TRAIN  # a few images at most, after the bisection
    for i in range(1, abs(excess) + 1):
        sizes[i] -= 1 if excess > 0 else -1
    assert sizes.sum() == TRAIN and sizes.max() <= 1000 and sizes.min() == 2
    return sizes.tolist()


def write_annotations(folder):
    folder.mkdir(parents=True, exist_ok=True)
    categories = [{"id": c, "name": f"species_{c:04d}", "supercategory": f"super_{c % 13}"} for c in range(CLASSES)]
    for split, sizes in (("train", class_sizes()), ("val", [VAL_PER_CLASS] * CLASSES)):
        images, annotations, n = [], [], 0
        for c, size in enumerate(sizes):
            for _ in range(size):
                images.append({"license": 3, "file_name": f"train_val2018/super_{c % 13}/{c}/{n:032x}.jpg",
                               "rights_holder": "A. Naturalist", "height": 600, "width": 800, "id": n})
                # the fields of an image entry of the official train2018.json
                annotations.append({"id": n, "image_id": n, "category_id": c})
                n += 1
        (folder / f"{split}2018.json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                              "categories": categories}))


def measured(argv):
    """The last stdout line (JSON) of a fresh interpreter running one step."""
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} failed:\n{proc.stdout}{proc.stderr}")
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1]), lines[:-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/inat-shaped", help="where the annotation files are written")
    args = parser.parse_args(argv)
    root = Path(args.dir)
    start = time.perf_counter()
    write_annotations(root / "inat2018")
    print(f"wrote {root / 'inat2018'}/train2018.json, val2018.json "
          f"({sum(p.stat().st_size for p in (root / 'inat2018').glob('*.json')) / 1e6:.0f} MB) in "
          f"{time.perf_counter() - start:.1f} s")
    load, _ = measured([sys.executable, "-c", LOAD, str(root / "inat2018")])
    print(f"load: {load['train']:,} train / {load['val']:,} val entries, {load['classes']:,} classes "
          f"({load['max']} to {load['min']} a class), shot groups {load['groups']}: {load['seconds']:.2f} s, "
          f"peak RSS {load['peak_rss_mb']:.0f} MB")
    plan, lines = measured([sys.executable, "-c", PLAN, "run", "--methods", "erm,ldam_drw", "--datasets",
                            "inat2018", "--seeds", "0,1,2", "--dry-run", "--data-root", str(root), "--out",
                            str(root / "results")])
    print(f"plan: {lines[-1]}")
    print(f"plan: {plan['seconds']:.2f} s, peak RSS {plan['peak_rss_mb']:.0f} MB (the process, imports included)")


if __name__ == "__main__":
    main()
