"""`bench report --html` rendered in a real browser (headless Chromium; CI installs Debian's chromium)."""

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.cli import main

DATA = Path(__file__).parent / "data"


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("CI must install Debian's chromium for the HTML report test")
    pytest.skip("no chromium on this machine (apt-get install chromium)")


def browse(page, *flags, fragment=""):
    """Run headless Chromium on the page (its own profile folder, killed with its children when done)."""
    profile = page.parent / "chromium-profile"
    proc = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={profile}", "--virtual-time-budget=5000", *flags,
                           page.resolve().as_uri() + fragment],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class Tables(HTMLParser):
    """{table id: [[cell text]]} of the DOM, rows in document order; figure kinds and inline svgs."""

    def __init__(self):
        super().__init__()
        self.tables, self.figures, self.svgs = {}, [], 0
        self._table, self._row, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id", "").startswith("table-"):
            self._table = self.tables.setdefault(attrs["id"][len("table-"):], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""
        elif tag == "figure":
            self.figures.append(attrs.get("data-kind"))
        elif tag == "svg":
            self.svgs += 1

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None


def dom(page, fragment=""):
    parser = Tables()
    parser.feed(browse(page, "--dump-dom", fragment=fragment))
    return parser


@pytest.fixture(scope="module")
def golden_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    shutil.copytree(DATA / "golden", folder / "golden")
    assert main(["report", str(folder / "golden"), "--html", "--out", str(folder / "report")]) == 0
    return folder / "report" / "report.html"


def mean(text):
    found = re.match(r"[-\d.]+", text)
    return float(found.group()) if found else None


def test_the_page_renders_with_its_tables_and_figures(golden_page):
    text = golden_page.read_text()
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:|//)""", text)  # nothing to fetch: opens offline
    assert "<link" not in text and "<script src" not in text
    page = dom(golden_page)
    main_rows = page.tables["main"]
    assert [row[0] for row in main_rows] == ["erm", "reweight", "cb", "ldam_drw", "drw"]
    assert main_rows[1][1].startswith("failed [")  # a missing cell says why, with its note
    assert any(name.startswith("shots_") for name in page.tables)
    assert page.figures.count("learning curves") == 2 and page.svgs >= 6  # 3 figures per setting, inline SVG
    assert page.tables["main"] == dom(golden_page).tables["main"]  # stable


def test_the_sort_control_sorts(golden_page):
    unsorted = dom(golden_page).tables["main"]
    descending = dom(golden_page, fragment="#sort=main:1").tables["main"]
    ascending = dom(golden_page, fragment="#sort=main:1:asc").tables["main"]
    numbers = [mean(row[1]) for row in descending if mean(row[1]) is not None]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) >= 3
    assert [mean(r[1]) for r in ascending if mean(r[1]) is not None] == sorted(numbers)
    assert sorted(map(tuple, descending)) == sorted(map(tuple, unsorted))  # the same rows, reordered
    shown = [mean(r[1]) for r in unsorted if mean(r[1]) is not None]
    assert shown != sorted(shown, reverse=True)  # the recorded table is not already in that order: a real sort
    assert descending[-1][1].startswith(("failed", "incomplete", "not run", "n/a"))  # cells without a number: last


def test_a_screenshot_is_not_blank(golden_page):
    from PIL import Image

    shot = golden_page.parent / "shot.png"
    browse(golden_page, f"--screenshot={shot}", "--window-size=1280,1600")
    import numpy as np

    image = Image.open(shot).convert("L")
    pixels = np.asarray(image).ravel().tolist()
    dark = sum(p < 128 for p in pixels) / len(pixels)
    assert image.size == (1280, 1600) and 0.005 < dark < 0.5  # text and figures on a light page
    assert len(set(pixels)) > 50


def test_bad_html_output_is_one_line(tmp_path, capsys):
    shutil.copytree(DATA / "golden", tmp_path / "golden")
    target = tmp_path / "a-file.html"
    target.write_text("keep me")
    code = main(["report", str(tmp_path / "golden"), "--html", "--out", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and "is not a folder; pass --out a folder" in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == "keep me"
    assert main(["report", str(tmp_path / "golden"), "--html"]) == 2
    assert "--html write files: pass --out DIR" in capsys.readouterr().err


def test_confusion_matrices_are_drawn_for_the_first_runs_only(tmp_path, monkeypatch):
    from bench.report import html

    shutil.copytree(DATA / "golden", tmp_path / "golden")
    monkeypatch.setattr(html, "CONFUSION_MAX_RUNS", 2)
    assert main(["report", str(tmp_path / "golden"), "--html", "--out", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.html").read_text()
    runs = text.count('<details class="run"')
    assert runs > 2 and text.count("the page draws the first 2 runs") == runs - 2


def overflow_px(page, width=1280):
    """How far the page, every run's details opened, is wider than a `width`-pixel window (0: no scroll)."""
    probe = page.with_name("probe.html")
    script = ("<script>document.querySelectorAll('details').forEach((d) => { d.open = true; });"
              "const root = document.documentElement;"
              "document.body.setAttribute('data-overflow', String(root.scrollWidth - root.clientWidth));</script>")
    probe.write_text(page.read_text().replace("</body>", script + "</body>"))
    found = re.search(r'data-overflow="(-?\d+)"', browse(probe, "--dump-dom", f"--window-size={width},900"))
    assert found, "the probe script did not run"
    return int(found.group(1))


def test_no_horizontal_scroll_at_1280_px_with_every_run_open(golden_page):
    assert overflow_px(golden_page) == 0  # confusion matrices, per-class tables and configs fit the window


def two_stage_golden(folder):
    """The golden sweep plus a stage-2 child (crt) and a post-hoc child (la_posthoc) of its erm seed 0, as
    their metrics.jsonl files look: stage-2 epochs from 0, one post-hoc line at the parent's last epoch."""
    from bench.plan.config import DEFAULTS

    shutil.copytree(DATA / "golden", folder)
    parent = next(folder.glob("cifar10_lt-exp100-ds0__erm__seed0__*"))
    last = json.loads((parent / "result.json").read_text())["last"]["epoch"]
    for method, stage, lines in (("crt", {"train": "classifier", "reinit": True}, [0, 1, 2]),
                                 ("la_posthoc", {"posthoc": "la"}, [last])):
        child = folder / parent.name.replace("__erm__", f"__{method}__")
        shutil.copytree(parent, child)
        result = json.loads((child / "result.json").read_text())
        result["method"] = result["config"]["method"]["name"] = method
        result["config"]["stage"] = {**DEFAULTS["stage"], "parent": parent.name, **stage}
        (child / "result.json").write_text(json.dumps(result))
        (child / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "top1": 40.0 + e}) + "\n" for e in lines))
    return folder


def test_stage_two_curves_have_their_own_axis_and_post_hoc_runs_are_visible(tmp_path):
    golden = two_stage_golden(tmp_path / "golden")
    assert main(["report", str(golden), "--html", "--out", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.html").read_text()
    curves = text[text.index('data-kind="learning curves"'):]
    curves = curves[: curves.index("</figure>")]
    assert "stage-2 epoch (0-based, from the parent" in curves  # a second axis: crt's epochs 0-2 are its own
    assert "post-hoc methods: a marker at their parent" in curves
    assert curves.count('id="axes_') == 2
    assert re.search(r'<g id="PathCollection_\d+">', curves)  # the post-hoc run drawn as markers, not a 1-point line


def test_a_run_shows_the_config_that_acts_on_it_and_readable_provenance():
    from bench.plan.config import DEFAULTS
    from bench.report.html import _rounded, shown_config

    cfg = json.loads(json.dumps(DEFAULTS))
    cfg["method"].update(name="erm")
    cfg["dataset"].update(name="cifar10_lt", profile="exp", imbalance_ratio=100.0)
    shown = shown_config(cfg)
    assert "stage" not in shown and "run" not in shown and "loader" not in shown  # a one-stage, in-memory run
    assert set(shown["method"]) == {"name", "loss", "weights", "sampler", "head", "mix", "algorithm"}  # no schedule:
    # nothing in erm acts on the re-balancing switch
    assert "image_size" not in shown["augment"] and shown["augment"]["crop_padding"] == 4
    assert "split_dir" not in shown["dataset"] and shown["dataset"]["imbalance_ratio"] == 100.0
    cfg["method"].update(name="crt")
    cfg["stage"].update(train="classifier", parent="x")
    cfg["dataset"].update(name="imagenet_lt", profile="natural", imbalance_ratio=None)
    shown = shown_config(cfg)
    assert shown["stage"]["train"] == "classifier" and "loader" in shown and "crop_padding" not in shown["augment"]
    assert _rounded({"timing": {"train_seconds": 49.03829183200651, "n": 3}, "x": [4553.380463678023]}) == \
        {"timing": {"train_seconds": 49.04, "n": 3}, "x": [4553.0]}
