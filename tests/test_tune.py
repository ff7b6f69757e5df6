"""bench tune: the declared search distributions, the space of each kind of method, the same budget for every
method, the choice on validation, the record the report reads, and resuming."""

import json
import math
import re
from pathlib import Path

import pytest
from scipy import stats

from bench.cli import main
from bench.methods.registry import PARTS
from bench.parts.search import Search
from bench.plan.config import resolve
from bench.plan.schema import KEYS
from bench.run.tuning.space import draw, search_space
from bench.run.tuning.study import choose, read_records, val_score

FIXTURE = ["--set", "dataset.verify=false", "dataset.download=false", "model.name=small_cnn"]
DECLARED = {**{f"method.{k}": p.search for k, p in PARTS.params.items() if p.search is not None},
            **{k.name: k.search for k in KEYS if k.search is not None}}


def test_every_hyper_parameter_a_part_declares_with_a_range_is_searched_or_says_why_not():
    searched = {k for k in DECLARED if k.startswith("method.")}
    assert {"method.gamma", "method.beta", "method.max_m", "method.s", "method.la_tau", "method.vs_gamma",
            "method.vs_tau", "method.sam_rho", "method.mix_alpha", "method.smooth_head"} <= searched
    assert set(DECLARED) - searched == {"train.lr", "train.weight_decay", "stage.lr", "stage.weight_decay"}
    for key, search in DECLARED.items():  # every bound and choice is a value the config accepts
        param = PARTS.params.get(key.split(".", 1)[1]) if key.startswith("method.") else None
        values = search.choices or (search.low, search.high)
        if param is not None:
            assert all(param.range_ok(v) for v in values), key
            low, high = search.bounds(None)  # the declared default is inside its search
            assert param.default in search.choices if search.choices else low <= param.default <= high, key


def test_the_tuning_page_lists_every_search_as_declared():
    text = (Path(__file__).resolve().parents[1] / "docs" / "tuning.md").read_text()
    listed = dict(re.findall(r"^\| `([a-z_.]+)` \| ([^|]+?) \|", text, re.M))
    assert listed == {key: search.describe() for key, search in DECLARED.items()}


@pytest.mark.parametrize("key", sorted(DECLARED))
def test_the_draws_follow_the_declared_distribution(key):
    search, own = DECLARED[key], 0.02  # a relative search scales the run's own value
    cfg = {key.split(".")[0]: {key.split(".")[1]: own}}
    values = [draw({key: search}, cfg, trial, 0)[key] for trial in range(1, 401)]
    if search.kind == "choice":
        assert set(values) == set(search.choices)
        return
    low, high = search.bounds(own)
    assert all(low * 0.9999 <= v <= high * 1.0001 for v in values)
    if search.kind == "log":  # uniform in log space: log-uniform
        values, low, high = [math.log(v) for v in values], math.log(low), math.log(high)
    assert stats.kstest(values, stats.uniform(low, high - low).cdf).pvalue > 0.001
    assert draw({key: search}, cfg, 7, 0) == draw({key: search}, cfg, 7, 0) != draw({key: search}, cfg, 7, 1)


def test_a_relative_search_moves_with_the_recipe_and_trial_0_is_the_default():
    space = {"train.lr": Search("log", 1 / 3, 3.0, relative=True)}
    small, large = (draw(space, {"train": {"lr": lr}}, 5, 0)["train.lr"] for lr in (0.02, 0.2))
    assert large / small == pytest.approx(10, rel=1e-3)
    assert draw(space, {"train": {"lr": 0.1}}, 0, 0) == {}
    assert not Search("log", 0.1, 10, relative=True).usable(0.0)  # a weight decay of 0 stays 0


@pytest.mark.parametrize("method, dataset, sets, expected", [
    ("erm", "cifar10_lt", [], ["train.lr", "train.weight_decay"]),
    ("ldam_drw", "cifar10_lt", [], ["method.beta", "method.max_m", "method.s", "train.lr", "train.weight_decay"]),
    ("focal", "cifar10_lt", ["train.lr=0.05"], ["method.gamma", "train.weight_decay"]),  # --set pins a key
    ("crt", "cifar10_lt", [], ["stage.lr", "stage.weight_decay"]),  # stage 2: its own optimiser
    ("la_posthoc", "cifar10_lt", [], ["train.lr", "train.weight_decay"]),  # post-hoc: the parent's (train.*)
    ("sade_tta", "cifar10_lt", [], ["train.lr", "train.weight_decay"]),  # not sade's s, sade_tau: parent-only
    ("mislas", "cifar10_lt", [], ["method.smooth_head", "method.smooth_tail", "stage.lr", "stage.weight_decay"]),
    ("ride_ea", "cifar10_lt", [], ["stage.lr", "stage.weight_decay"]),  # the experts' loss is the parent's
    ("drw_sam", "cifar10_lt", ["method.sam_rho_schedule=[[0,0.05],[1,0.1]]"], ["method.beta", "train.lr",
                                                                                "train.weight_decay"]),
    ("clip_zeroshot", "cifar10_lt", ["model.name=clip_tiny", "model.weights=null"], []),  # trains nothing
])
def test_the_space_of_each_kind_of_method(method, dataset, sets, expected):
    cfg = resolve(method, dataset, 0, sets=[*sets, "eval.selection=best_val"])
    pinned = {s.split("=")[0] for s in sets}
    assert list(search_space(cfg, pinned)) == expected


def tune_args(root, out, methods, trials=2, seeds="0,1", extra=()):
    return ["tune", "--methods", methods, "--datasets", "cifar10_lt", "--seeds", seeds, "--trials", str(trials),
            "--epochs", "1", "--data-root", str(root), "--out", str(out), "--no-progress", *FIXTURE, *extra]


def test_every_method_gets_the_same_trials_and_the_same_draws(cifar_root, tmp_path, capsys):
    assert main(tune_args(cifar_root, tmp_path / "out", "erm,focal,crt", trials=4, extra=["--dry-run"])) == 0
    text = capsys.readouterr().out
    trials = re.findall(r"^  trial (\d): (.*) -> (\S+)$", text, re.M)
    assert len(trials) == 12 and len({name for *_, name in trials}) == 12
    by_method = {}
    for index, values, name in trials:
        by_method.setdefault(name.split("__")[1], {})[int(index)] = dict(v.split("=") for v in values.split(", ")
                                                                         if "=" in v)
    assert {m: sorted(t) for m, t in by_method.items()} == {m: [0, 1, 2, 3] for m in ("erm", "focal", "crt")}
    for k in (1, 2, 3):  # common random numbers: every method tries the same learning rates
        assert by_method["erm"][k]["train.lr"] == by_method["focal"][k]["train.lr"]
        assert 0.1 / 3 <= float(by_method["erm"][k]["train.lr"]) <= 0.3
        assert 0 <= float(by_method["focal"][k]["method.gamma"]) <= 3
    assert by_method["erm"][0] == {} and "nothing was started" in text and not (tmp_path / "out").exists()
    assert main(tune_args(cifar_root, tmp_path / "out", "erm", extra=["--set", "eval.selection=last"])) == 2


def test_choose_takes_the_validation_best_and_the_default_on_a_tie():
    records = [{"index": 0, "val_top1": 60.0}, {"index": 1, "val_top1": 62.5}, {"index": 2, "val_top1": None},
               {"index": 3, "val_top1": 62.5}]
    assert choose(records)["index"] == 1
    assert choose([{"index": 0, "val_top1": 50.0}, {"index": 1, "val_top1": 50.0}])["index"] == 0
    assert choose([{"index": 0, "val_top1": None}]) is None
    assert val_score({"status": "done", "best": {"val_top1": 71.5, "top1": 10.0}}) == 71.5
    assert val_score({"status": "done", "best": {}, "selection": {"val_top1_per_tau": [40.0, 44.5, 43.0]}}) == 44.5
    assert val_score({"status": "failed"}) is None


def test_a_child_without_a_validation_score_is_scored_by_its_parent(tmp_path):
    from bench.plan.runs import PlannedRun
    from bench.run.tuning.study import Trial, trial_record

    parent, child = tmp_path / "parent", tmp_path / "child"
    for folder, result in ((parent, {"status": "done", "best": {"val_top1": 71.5}, "timing": {"train_seconds": 30}}),
                           (child, {"status": "done", "best": {"top1": 60.0}, "timing": {"train_seconds": 2}})):
        folder.mkdir()
        (folder / "result.json").write_text(json.dumps(result))
    record = trial_record(Trial(1, {"train.lr": 0.05}, [PlannedRun({}, parent), PlannedRun({}, child)]))
    assert (record["val_top1"], record["val_of"], record["train_seconds"]) == (71.5, "parent", 32.0)
    assert trial_record(Trial(0, {}, [PlannedRun({}, tmp_path / "none")]))["status"] == "incomplete"


def test_tune_trains_the_trials_chooses_on_val_reruns_with_every_seed_and_resumes(cifar_root, tmp_path, capsys,
                                                                                  monkeypatch):
    """The choice is made the drawn trial's (choose itself is tested above): one-epoch trials on a fixture tie at
    chance on some CPUs and not on others, and the test must take the same path on every CPU."""
    from bench.run.tuning import command

    monkeypatch.setattr(command, "choose", lambda records: max(
        (r for r in records if r["val_top1"] is not None), key=lambda r: r["index"], default=None))
    out = tmp_path / "out"
    assert main(tune_args(cifar_root, out, "erm,la_posthoc")) == 0
    records = {r["method"]: r for r in read_records(out)}
    assert set(records) == {"erm", "la_posthoc"}
    results = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/result.json")}
    for record in records.values():
        vals = [results[t["run_id"]]["best"].get("val_top1") or max(results[t["run_id"]]["selection"]
                                                                    ["val_top1_per_tau"]) for t in record["trials"]]
        assert [t["val_top1"] for t in record["trials"]] == vals
        assert record["chosen"] == 1
        assert record["budget"] == 2 and len(record["trials"]) == 2 and record["seeds"] == [0, 1]
        for name in record["tuned_runs"]:
            cfg = results[name]["config"]
            assert all(cfg[k.split(".")[0]][k.split(".")[1]] == v for k, v in record["chosen_values"].items())
            assert cfg["eval"]["selection"] == "best_val" and results[name]["status"] == "done"
        assert [results[n]["seed"] for n in record["default_runs"]] == [0, 1]
    trials = [out / t["run_id"] for t in records["erm"]["trials"]]  # la_posthoc's parents are erm's trials
    parents = [out / results[t["run_id"]]["parent"]["run_id"] for t in records["la_posthoc"]["trials"]]
    assert trials == parents
    spent = sum(results[p.name]["timing"]["train_seconds"] for p in trials)
    assert records["la_posthoc"]["trial_train_seconds"] == pytest.approx(spent, abs=0.01)
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    report = capsys.readouterr().out
    assert re.search(r"^\| erm \(tuned, 2 trials\) \| [\d.]+ ± [\d.]+", report, re.M)
    assert "| la_posthoc (tuned, 2 trials) | " in report and "Equal tuning budgets" in report
    from bench import load_results

    frame = load_results(out)
    roles = frame.groupby("run_id")["tuning"].first()
    erm = records["erm"]
    assert roles[erm["trials"][0]["run_id"]] == "default; trial"
    assert roles[erm["trials"][1]["run_id"]] == "trial; tuned (2 trials)"
    assert roles[erm["default_runs"][1]] == "default" and roles[erm["tuned_runs"][1]] == "tuned (2 trials)"
    shown = frame.groupby("run_id")["reported"].first()  # what the report's tables show: every run but the trials
    hidden = {t["run_id"] for r in records.values() for t in r["trials"][1:]} - {
        n for r in records.values() for n in r["tuned_runs"]}  # not chosen, and their parents (erm's trials)
    assert {name for name, shows in shown.items() if not shows} == hidden
    next(p for p in (out / ".bench" / "tune").glob("*.json") if "__erm__" in p.name).unlink()
    assert main(["report", str(out)]) == 0  # la_posthoc tuned alone: the parents drawn for it are no rows
    rows = re.findall(r"^\| (erm[^|]*) \|", capsys.readouterr().out, re.M)
    assert rows and set(rows) == {"erm"}
    assert main(tune_args(cifar_root, out, "erm,la_posthoc")) == 0  # again: nothing trains
    again = capsys.readouterr().out
    assert "already done" in again and not re.search(r"^done ", again, re.M)
    assert [r["written"] for r in read_records(out)] and Path(out / ".bench" / "tune").is_dir()


def test_status_shows_and_cancel_cancels_a_pending_selection_job(tmp_path, monkeypatch, capsys):
    from bench.run import status
    from bench.run.tuning.study import record_selection_job

    record_selection_job(tmp_path, "77")
    record_selection_job(tmp_path, "78")
    monkeypatch.setattr(status, "job_states", lambda ids: {"77": "PENDING", "78": "COMPLETED", "99": "PENDING"})
    cancelled = []
    monkeypatch.setattr(status.subprocess, "run", lambda cmd, check: cancelled.append(cmd))
    status.print_status(tmp_path)
    assert "bench tune's selection job 77: pending" in capsys.readouterr().out
    assert status.cancel(tmp_path) == ["77"] and cancelled == [["scancel", "77"]]


def _scored(out, method, seed, sets, top1):
    """A finished best_val run with a known top-1 (the rest of the result from a golden run); its run id."""
    from conftest import write_scored_run

    return write_scored_run(out, method, seed, top1, ["eval.selection=best_val", *sets])


def _study(out, method, sets, budget, tops=(50.0, 52.0), chosen=1):
    """A study record of two trials (the defaults, then train.lr=0.05) and its runs at seeds 0 and 1."""
    from bench.run.tuning.study import tune_dir

    default = [_scored(out, method, seed, sets, tops[0] + seed) for seed in (0, 1)]
    drawn = [_scored(out, method, seed, [*sets, "train.lr=0.05"], tops[1] + seed) for seed in (0, 1)[:1 + chosen]]
    trials = [{"index": i, "values": v, "run_id": runs[0], "status": "done", "val_top1": 40.0 + i, "train_seconds": 60}
              for i, (v, runs) in enumerate((({}, default), ({"train.lr": 0.05}, drawn)))]
    record = {"method": method, "budget": budget, "search_seed": 0, "trials": trials, "chosen": chosen,
              "chosen_values": trials[chosen]["values"], "default_runs": default,
              "tuned_runs": drawn if chosen else default, "space": {"train.lr": "log-uniform"},
              "trial_train_seconds": 120.0}
    tune_dir(out).mkdir(parents=True, exist_ok=True)
    (tune_dir(out) / f"{default[0]}-n{budget}-s0.json").write_text(json.dumps(record))


def test_each_study_is_its_own_row_named_after_its_default(tmp_path, capsys):
    out = tmp_path / "r"
    _study(out, "focal", [], 2)
    _study(out, "focal", ["method.gamma=2"], 2, tops=(60.0, 58.0))  # a --grid over the method's own key
    _study(out, "focal", [], 4)  # a larger budget that chose the same trial (two of its trials ran: it says so)
    _study(out, "erm", [], 2, chosen=0)  # the default chosen: it is both rows
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    rows = dict(re.findall(r"^\| ([^|]+?) \| (\**[\d.]+ ± [\d.]+\**) \|$", text.split("**Equal")[0], re.M))
    assert {k: v.strip("*") for k, v in rows.items()} == {
        "erm": "50.50 ± 0.71", "erm (tuned, 2 trials)": "50.50 ± 0.71", "focal": "50.50 ± 0.71",
        "focal (tuned, 2 trials)": "52.50 ± 0.71", "focal (tuned, 2 of 4 trials)": "52.50 ± 0.71",
        "focal (gamma=2.0)": "60.50 ± 0.71", "focal (gamma=2.0) (tuned, 2 trials)": "58.50 ± 0.71"}
    assert text.startswith("11 runs in")  # each run folder counted once, copies for tuned rows aside
    tuning = text.split("**Equal")[1]
    assert "| focal (tuned, 2 trials) | cifar10_lt exp-100 ds0 |" in tuning
    assert "| focal (gamma=2.0) (tuned, 2 trials) | cifar10_lt exp-100 ds0 |" in tuning
    assert ("| erm (tuned, 2 trials) | cifar10_lt exp-100 ds0 | 2 of 2 | 40.00 | 40.00 | the defaults | 2.0 min |"
            in tuning)


def _dry_trials(text):
    found = {}
    for index, values, name in re.findall(r"^  trial (\d): (.*) -> (\S+)$", text, re.M):
        found.setdefault(name.split("__")[1], {})[int(index)] = dict(v.split("=") for v in values.split(", ")
                                                                     if "=" in v)
    return found


def test_a_small_space_runs_each_configuration_once_and_post_hoc_scales_from_its_parent(cifar_root, tmp_path,
                                                                                       capsys):
    pin = ["--set", "train.lr=0.1", "train.weight_decay=0.0002", "--dry-run"]
    assert main(tune_args(cifar_root, tmp_path / "out", "cb", trials=8, extra=pin)) == 0
    cb = _dry_trials(capsys.readouterr().out)["cb"]  # beta's 4 choices, the default's 0.9999 among them
    assert sorted(float(t.get("method.beta", 0.9999)) for t in cb.values()) == [0.9, 0.99, 0.999, 0.9999]
    assert main(tune_args(cifar_root, tmp_path / "out", "sade,sade_tta", trials=3, extra=["--dry-run"])) == 0
    found = _dry_trials(capsys.readouterr().out)
    for k in (1, 2):  # sade_tta's train.* are its parent SADE's: scaled from SADE's recipe, as SADE's own trial k
        assert {key: found["sade"][k][key] for key in found["sade_tta"][k]} == found["sade_tta"][k]
