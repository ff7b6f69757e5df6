"""Method layer v2: part registries and their hyper-parameters, the new losses in closed form,
re-balancing through one hook, mixup / CutMix, and the metric schema (ECE, NLL, worst class)."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import cli_without_torch
from scipy import stats

from bench.algorithms.compose import Composition
from bench.cli import main
from bench.errors import BenchError
from bench.methods import BalancedSoftmaxLoss, LDAMLoss, LogitAdjustedLoss, VSLoss
from bench.methods.registry import METHODS, PARTS
from bench.metrics.evaluate import METRICS, evaluate_metrics, expected_calibration_error
from bench.parts.mix import Mixer, cutmix_box
from bench.parts.part import Param, Part, Parts
from bench.parts.weights import class_balanced_weights
from bench.plan.config import DEFAULTS, config_hash, resolve

LN = math.log


def batch(*rows):
    return torch.tensor(rows, dtype=torch.float32)


# ---------------------------------------------------------------- losses in closed form


def test_logit_adjusted_loss_hand_computed():
    # counts (3, 1): pi = (0.75, 0.25); adjusted logits z + tau ln pi
    # sample 1: z (1, 0), y 0 -> -ln softmax(1 + ln .75, ln .25)[0] = 0.115671...
    # sample 2: z (0, 2), y 1 -> -ln softmax(ln .75, 2 + ln .25)[1] = 0.340753...
    x, y = batch([1.0, 0.0], [0.0, 2.0]), torch.tensor([0, 1])
    assert LogitAdjustedLoss([3, 1])(x, y).item() == pytest.approx(0.22821198280389088, rel=1e-6)
    assert LogitAdjustedLoss([3, 1], tau=0.5)(x, y).item() == pytest.approx(0.20159457650308643, rel=1e-6)
    assert LogitAdjustedLoss([3, 1], tau=0.0)(x, y).item() == pytest.approx(F.cross_entropy(x, y).item(), rel=1e-6)
    # class weights (1, 3): weighted mean (1 * 0.115671 + 3 * 0.340753) / 4
    weighted = LogitAdjustedLoss([3, 1], weight=torch.tensor([1.0, 3.0]))(x, y)
    assert weighted.item() == pytest.approx(0.284482468358511, rel=1e-6)


def test_balanced_softmax_equals_logit_adjustment_with_tau_one():
    gen = torch.Generator().manual_seed(0)
    counts = [500, 120, 40, 9, 2]
    x, y = torch.randn(64, 5, generator=gen) * 3, torch.randint(0, 5, (64,), generator=gen)
    w = class_balanced_weights(counts, 0.999)
    for weight in (None, w):
        la = LogitAdjustedLoss(counts, tau=1.0, weight=weight)(x, y)
        bs = BalancedSoftmaxLoss(counts, weight=weight)(x, y)
        assert bs.item() == pytest.approx(la.item(), rel=1e-5)
    assert LogitAdjustedLoss(counts, tau=2.0)(x, y).item() != pytest.approx(BalancedSoftmaxLoss(counts)(x, y).item())


def test_vs_loss_hand_computed():
    # counts (4, 1), gamma 0.5, tau 1: Delta = (n / n_max)^0.5 = (1, 0.5), iota = ln (0.8, 0.2)
    # sample 1: z (2, 2), y 1 -> -ln softmax(2 + ln .8, 1 + ln .2)[1] = 2.474277...
    # sample 2: z (1, -1), y 0 -> -ln softmax(1 + ln .8, -0.5 + ln .2)[0] = 0.054282...
    x, y = batch([2.0, 2.0], [1.0, -1.0]), torch.tensor([1, 0])
    assert VSLoss([4, 1], gamma=0.5, tau=1.0)(x, y).item() == pytest.approx(1.264279936840058, rel=1e-6)
    # gamma 0 is the logit-adjusted loss; gamma 0 and tau 0 plain cross-entropy
    assert VSLoss([4, 1], 0.0, 1.0)(x, y).item() == pytest.approx(LogitAdjustedLoss([4, 1])(x, y).item(), rel=1e-6)
    assert VSLoss([4, 1], 0.0, 0.0)(x, y).item() == pytest.approx(F.cross_entropy(x, y).item(), rel=1e-6)
    w = torch.tensor([2.0, 1.0])
    v1, v2 = 2.4742776375972904, 0.05428223608282545
    weighted = VSLoss([4, 1], 0.5, 1.0, weight=w)(x, y).item()
    assert weighted == pytest.approx((1.0 * v1 + 2.0 * v2) / 3.0, rel=1e-6)


def test_public_losses_are_modules_computing_a_mean_from_logits_and_target():
    x, y = torch.randn(8, 3), torch.randint(0, 3, (8,))
    for loss in (LogitAdjustedLoss([5, 3, 1], tau=1.0), VSLoss([5, 3, 1], 0.3, 1.0), BalancedSoftmaxLoss([5, 3, 1])):
        assert isinstance(loss, torch.nn.Module)
        value = loss(x, y)
        assert value.shape == () and math.isfinite(value.item())


@pytest.mark.parametrize("method", ["logit_adjust_drw", "vs_drw", "ldam_drw", "drw"])
def test_deferred_methods_switch_class_weights_on_at_the_first_decay(method):
    cfg = resolve(method, "cifar10_lt", 0, flags={"train.epochs": 10})  # milestones int(.8*10), int(.9*10) = 8, 9
    counts = [100, 50, 20, 10, 5, 5, 4, 3, 2, 1]
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    comp = Composition(cfg, counts, labels, torch.device("cpu"))
    x = torch.randn(32, 10, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(2))
    _, on = comp.start_epoch(7, torch.Generator().manual_seed(0))
    assert not on and comp.loss.weight is None
    unweighted = comp.loss_value(x, (y, None, 1.0)).item()
    _, on = comp.start_epoch(8, torch.Generator().manual_seed(0))
    cb = class_balanced_weights(counts, 0.9999)
    assert on and torch.equal(comp.loss.weight, cb)
    reference = {"logit_adjust_drw": LogitAdjustedLoss(counts, 1.0, weight=cb), "vs_drw": VSLoss(counts, 0.3, 1.0, cb),
                 "ldam_drw": LDAMLoss(counts, 0.5, 30.0, weight=cb), "drw": torch.nn.CrossEntropyLoss(weight=cb)}
    assert comp.loss_value(x, (y, None, 1.0)).item() == pytest.approx(reference[method](x, y).item(), rel=1e-6)
    assert comp.loss_value(x, (y, None, 1.0)).item() != pytest.approx(unweighted, rel=1e-3)


def test_deferred_sampler_visits_every_image_once_before_the_switch():
    cfg = resolve("drs", "cifar10_lt", 0, flags={"train.epochs": 10})
    counts = [50, 5]
    labels = torch.tensor([0] * 50 + [1] * 5)
    comp = Composition(cfg, counts, labels, torch.device("cpu"))
    order, _ = comp.start_epoch(0, torch.Generator().manual_seed(3))
    assert torch.equal(order, torch.randperm(55, generator=torch.Generator().manual_seed(3)))
    order, _ = comp.start_epoch(8, torch.Generator().manual_seed(3))
    assert sorted(order.tolist()) != list(range(55))  # drawn with replacement, class-balanced


# ---------------------------------------------------------------- mixing


def test_mixup_lambda_is_beta_distributed_and_images_and_labels_combine():
    mixer = Mixer("mixup", 0.4, torch.Generator().manual_seed(0))
    x = torch.randn(6, 3, 4, 4)
    labels = torch.arange(6)
    lams = []
    for _ in range(3000):
        mixed, partner, lam = mixer(x, labels)
        lams.append(lam)
    assert stats.kstest(lams, stats.beta(0.4, 0.4).cdf).pvalue > 1e-3
    assert np.mean(lams) == pytest.approx(0.5, abs=0.02)
    # the last draw: x = lam x_i + (1 - lam) x_perm(i), partner labels = labels[perm]
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[partner])
    assert sorted(partner.tolist()) == list(range(6))


def test_cutmix_pastes_a_box_and_lambda_is_the_area_kept():
    mixer = Mixer("cutmix", 1.0, torch.Generator().manual_seed(0))
    h, w = 16, 12
    x = torch.arange(8, dtype=torch.float32).view(8, 1, 1, 1).expand(8, 3, h, w).contiguous()
    areas = []
    for _ in range(300):
        mixed, partner, lam = mixer(x, torch.arange(8))
        for i in range(8):
            if partner[i] == i:
                continue
            pasted = (mixed[i, 0] == partner[i]).sum().item()
            assert lam == pytest.approx(1 - pasted / (h * w))
            rows, cols = torch.nonzero(mixed[i, 0] == partner[i], as_tuple=True)
            if pasted:  # one rectangle
                assert pasted == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        areas.append(1 - lam)
    assert 0.2 < np.mean(areas) < 0.5  # E[1 - lam] = 0.5 before clipping the box to the image
    rng = np.random.default_rng(0)
    y1, y2, x1, x2 = cutmix_box(100, 100, 0.75, rng)  # side sqrt(0.25) * 100 = 50 when not clipped
    assert y2 - y1 <= 50 and x2 - x1 <= 50


def test_mixed_loss_is_the_lambda_combination_of_the_loss_on_each_label():
    cfg = resolve("ldam_drw_mixup", "cifar10_lt", 0, flags={"train.epochs": 10})
    counts = [100, 50, 20, 10, 5, 5, 4, 3, 2, 1]
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    comp = Composition(cfg, counts, labels, torch.device("cpu"))
    comp.start_epoch(0, torch.Generator().manual_seed(0))
    cos = torch.rand(16, 10) * 2 - 1
    y, yb = torch.randint(0, 10, (16,)), torch.randint(0, 10, (16,))
    ldam = LDAMLoss(counts, 0.5, 30.0)
    expected = 0.3 * ldam(cos, y) + 0.7 * ldam(cos, yb)
    assert comp.loss_value(cos, (y, yb, 0.3)).item() == pytest.approx(expected.item(), rel=1e-6)
    soft = -(0.3 * F.one_hot(y, 10) + 0.7 * F.one_hot(yb, 10)) * F.log_softmax(30 * cos, 1)
    assert comp.loss_value(cos, (y, yb, 0.3)).item() != pytest.approx(soft.sum(1).mean().item(), rel=1e-3)


def test_methods_without_mixing_draw_nothing_more_from_the_epoch_generator():
    cfg = resolve("erm", "cifar10_lt", 0)
    labels = torch.tensor([0, 0, 1])
    gen = torch.Generator().manual_seed(5)
    Composition(cfg, [2, 1], labels, torch.device("cpu")).start_epoch(0, gen)
    ref = torch.Generator().manual_seed(5)
    torch.randperm(3, generator=ref)
    assert torch.equal(gen.get_state(), ref.get_state())


# ---------------------------------------------------------------- registries and config


def test_method_section_is_derived_from_the_part_declarations():
    assert DEFAULTS["method"] == PARTS.config_defaults()
    import bench_test_plugin  # the test-only algorithm (tests/conftest.py loads it) declares one more

    assert {"max_m", "s", "gamma", "focal_form", "beta", "defer_epoch", "la_tau", "vs_gamma", "vs_tau",
            "smooth_head", "smooth_tail", "mix_alpha", "sam_rho", "sam_rho_schedule", "experts", "reduce_experts",
            "ride_diversity", "ride_reweight_factor", "sade_tau", "paco_alpha", "paco_beta", "paco_gamma",
            "paco_temperature", "paco_dim", "paco_queue", "paco_momentum", "paco_key_view", "bcl_alpha", "bcl_beta",
            "bcl_temperature", "bcl_hidden", "bcl_dim", "ride_router_top_k",
            "ride_router_pos_weight", "tuning", "peft_dim", "vpt_length", "head_init", "prompts", "tte",
            "tte_expand", "micro_batch", "cutmix_prob", "class_aware_per_visit", "lade_alpha", "lade_lambda",
            "grw_rho", "gcl_noise_mul", "gcl_margin", "gcl_gamma", "balpoe_taus", "imbsam_eta",
            "imbsam_tail_weight", "focal_sam_gamma", "focal_sam_lambda", "proco_alpha", "proco_temperature",
            "proco_dim", "proco_hidden", "proco_scale", "dirmixe_lambda", "dirmixe_power", "dirmixe_trials",
            "dirmixe_concentration", "deit_student", "deit_alpha", "deit_drop_path", "deit_beta", "deit_mixup_alpha",
            "deit_cutmix_alpha", "deit_switch_prob", "deit_smoothing", "deit_erasing", "deit_micro_batch",
            "deit_mix_deferred", "ccsam_flat_ratio", "ccsam_noise_ratio", "ccsam_div", "ccsam_up_limit",
            "ccsam_adver_reg"} == set(PARTS.params) - {"consistency"}
    assert [p.key for p in bench_test_plugin.PART.params] == ["consistency"]
    assert PARTS.users["beta"] == [("weights", "cb"), ("sampler", "class_balanced")]
    for part in (p for registry in PARTS.kinds.values() for p in registry.values()):
        assert part.doc, part.name
        for param in part.params:
            assert param.doc, param.key


def test_a_hyper_parameter_no_part_uses_is_refused_naming_the_parts_that_do(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--methods", "focal", "--datasets", "cifar10_lt", "--out", str(out), "--dry-run",
                 "--set", "method.max_m=0.3"])
    err = capsys.readouterr().err
    assert code == 2 and "method.max_m is used only by loss ldam" in err and "method focal" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    assert main(["run", "--methods", "ldam_drw", "--datasets", "cifar10_lt", "--out", str(out), "--dry-run",
                 "--set", "method.max_m=0.3"]) == 0
    base = resolve("ldam_drw", "cifar10_lt", 0)
    assert config_hash(resolve("ldam_drw", "cifar10_lt", 0, sets=["method.max_m=0.3"])) != config_hash(base)
    # the default value is harmless: the same run
    assert config_hash(resolve("focal", "cifar10_lt", 0, sets=["method.max_m=0.5"])) == \
        config_hash(resolve("focal", "cifar10_lt", 0))
    with pytest.raises(BenchError, match="method.defer_epoch is used only by schedule deferred"):
        resolve("cb", "cifar10_lt", 0, sets=["method.defer_epoch=3"])
    with pytest.raises(BenchError, match="mix mixup or mix cutmix"):
        resolve("ldam_drw", "cifar10_lt", 0, sets=["method.mix_alpha=0.2"])


@pytest.mark.parametrize("item, message", [
    ("method.loss=ldm", "method.loss must be one of ce, focal, gcl, lade, las, ldam, logit_adjust, "
                        "balanced_softmax, softmax_bce, vs, got 'ldm' (did you mean 'ldam'?)"),
    ("method.mix=mixpu", "method.mix must be one of none, mixup, cutmix"),
    ("method.mix_alpha=0", "method.mix_alpha must be positive, got 0"),
    ("method.la_tau=-1", "method.la_tau must be non-negative, got -1"),
    ("method.vs_gamma=abc", "method.vs_gamma must be a number"),
])
def test_bad_part_names_and_ranges_are_one_line_errors(tmp_path, capsys, item, message):
    sets = [item] + (["method.mix=mixup"] if item.startswith("method.mix_alpha") else [])
    method = "logit_adjust" if "la_tau" in item else "vs" if "vs_" in item else "erm"
    code = main(["run", "--methods", method, "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"), "--dry-run",
                 "--set", *sets])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_parts_that_do_not_go_together_are_refused_at_plan_time():
    parts = Parts()
    for part in (Part("loss", "plain", "x"), Part("loss", "pairwise", "a loss over pairs", supports_mix=False,
                                                   supports_weights=False)):
        parts.register(part)
    for kind in ("weights", "sampler", "schedule", "head", "mix"):
        for name in {"weights": ("none", "cb"), "sampler": ("instance",), "schedule": ("start",),
                     "head": ("auto",), "mix": ("none", "mixup")}[kind]:
            parts.register(Part(kind, name, "x"))
    cfg = {"name": "m", "loss": "pairwise", "weights": "none", "sampler": "instance", "schedule": "start",
           "head": "auto", "mix": "mixup"}
    with pytest.raises(BenchError, match="loss pairwise cannot be combined over two labels.*method.mix=none"):
        parts.check(cfg, cfg)
    with pytest.raises(BenchError, match="loss pairwise does not take class weights"):
        parts.check({**cfg, "mix": "none", "weights": "cb"}, cfg)
    parts.check({**cfg, "mix": "none"}, cfg)
    with pytest.raises(ValueError, match="declared differently"):
        parts.register(Part("loss", "other", "x", params=(Param("beta", 0.5, "another beta"),)) )
        parts.register(Part("loss", "other2", "x", params=(Param("beta", 0.9, "another beta"),)))


def test_every_loss_takes_class_weights_and_mixing():
    for part in PARTS.kinds["loss"].values():
        assert part.supports_weights and part.supports_mix, part.name
        assert part.forward is not None


def test_list_methods_and_parts_show_hyper_parameters_without_torch():
    torch_loaded, rest = cli_without_torch(["list", "parts"], ["list", "methods"])
    text = "\n".join(rest)
    assert not torch_loaded
    for kind, registry in PARTS.kinds.items():
        assert f"{kind} (method.{kind}, default " in text
        for name in registry:
            assert f"\n  {name} " in text, name
    assert "method.vs_gamma = 0.3 (non-negative)" in text and "orparask/VS-Loss class_imbalance/train.py" in text
    assert "hyper-parameters: method.vs_gamma=0.3, method.vs_tau=1, method.beta=0.9999, method.defer_epoch=null" \
        in text  # vs_drw
    assert "method.gamma=1" in text.split("\ncb_focal")[1].split("\n")[2]


def test_existing_method_ids_do_not_move_with_new_parts():
    # computed by the code before the part registries (a839688); the new keys stay at their defaults
    cases = [("ldam_drw", "cifar10_lt", 1, [], "145b202c"),
             ("cb_focal", "cifar100_lt", 3, ["method.focal_form=standard"], "d5b61a9b"),
             ("drs", "cifar10_lt", 0, ["method.defer_epoch=5"], "4e4f93f4"),
             ("resample", "fashion_mnist_lt", 2, ["method.sampler=class_uniform"], "cf402c23"),
             ("ldam", "cifar10_lt", 0, ["method.max_m=0.3", "method.head=linear"], "ca87b77f")]
    for method, dataset, seed, sets, expected in cases:
        assert config_hash(resolve(method, dataset, seed, sets=sets)) == expected, (method, sets)
    new = {m: config_hash(resolve(m, "cifar10_lt", 0, sets=["eval.selection=best_val"])) for m in METHODS}
    assert len(set(new.values())) == len(new)  # every method its own id


# ---------------------------------------------------------------- metric schema


def test_ece_nll_and_worst_class_on_a_hand_computed_case():
    # two classes; confidences 0.9 (right), 0.9 (wrong), 0.7 (right), 0.55 (right), all predicting class 0
    conf = torch.tensor([0.9, 0.9, 0.7, 0.55], dtype=torch.float64)
    logits = torch.stack([conf.log(), (1 - conf).log()], 1).float()
    labels = torch.tensor([0, 1, 0, 0])
    # bins of width 1/15: {0.9, 0.9} in (0.867, 0.933]: |0.5 - 0.9| * 2/4; 0.7: |1 - 0.7| / 4; 0.55: |1 - 0.55| / 4
    assert expected_calibration_error(logits, labels) == pytest.approx(38.75, abs=1e-4)
    m = evaluate_metrics(logits, labels, [10, 1], many_above=5, few_below=2)
    assert m["ece"] == pytest.approx(38.75, abs=1e-4)
    assert m["nll"] == pytest.approx(-(LN(0.9) + LN(0.1) + LN(0.7) + LN(0.55)) / 4, rel=1e-5)
    assert m["worst"] == 0.0 and m["top1"] == 75.0 and m["per_class_acc"] == [100.0, 0.0]
    assert m["many"] == 100.0 and m["few"] == 0.0 and m["medium"] is None
    perfect = evaluate_metrics(torch.tensor([[10.0, 0.0], [0.0, 10.0]]), torch.tensor([0, 1]), [1, 1])
    assert perfect["ece"] == pytest.approx(100 * (1 - 1 / (1 + math.exp(-10))), rel=1e-6)  # all in the top bin


def test_every_metric_of_the_schema_reaches_result_json_and_the_report(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "1", "--data-root",
                 str(cifar_root), "--out", str(out), "--no-progress", "--set", "dataset.verify=false",
                 "dataset.download=false", "model.name=small_cnn", "train.warmup_epochs=0"]) == 0
    (result_path,) = out.glob("*/result.json")
    result = json.loads(result_path.read_text())
    for metric in METRICS:
        assert metric.name in result["last"], metric.name
    history = [json.loads(line) for line in (result_path.parent / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["ece"] == result["last"]["ece"]
    for metric in ("ece", "nll", "worst"):
        assert main(["report", str(out), "--metric", metric]) == 0
    assert main(["report", str(out), "--metric", "ece", "--out", str(tmp_path / "rep"), "--csv"]) == 0
    text = (tmp_path / "rep" / "tables.md").read_text()
    assert "Expected calibration error (%, 15 bins), last epoch" in text
    assert f"{result['last']['ece']:.2f}" in text
    csv = (tmp_path / "rep" / "results.csv").read_text()
    assert ",ece," in csv and ",nll," in csv and ",worst," in csv


def test_report_on_runs_without_a_metric_says_why(tmp_path, capsys):
    import shutil
    from pathlib import Path

    shutil.copytree(Path(__file__).parent / "data" / "golden", tmp_path / "g")
    assert main(["report", str(tmp_path / "g"), "--metric", "nll"]) == 0
    out = capsys.readouterr().out
    assert "Negative log-likelihood (nats), last epoch" in out
    assert "| erm | n/a [1] |" in out
    assert "3 run(s) have no nll (negative log-likelihood (nats)): their result.json was written by a bench " \
           "version without it" in out


def test_recipe_hyper_parameters_apply_where_used_and_never_split_a_report_cell(tmp_path):
    from bench.report.collect import _variant, method_params

    # the iNat recipe sets max_m 0.3 and defer_epoch 60 for every method: erm runs, ldam_drw uses them
    erm = resolve("erm", "inat2018", 0)
    assert resolve("ldam_drw", "inat2018", 0)["method"]["max_m"] == 0.3
    with pytest.raises(BenchError, match="method.max_m is used only by loss ldam"):
        resolve("erm", "inat2018", 0, sets=["method.max_m=0.4"])
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("method:\n  gamma: 2.0\n")
    with pytest.raises(BenchError, match="method.gamma is used only by loss focal"):
        resolve("erm", "cifar10_lt", 0, config_files=[cfg_file])
    assert resolve("focal", "cifar10_lt", 0, config_files=[cfg_file])["method"]["gamma"] == 2.0
    # an unused value (a run written before this check, or a recipe's) is no variant of its own
    old = resolve("erm", "cifar10_lt", 0)
    old["method"]["max_m"] = 0.3
    assert _variant(old) == _variant(resolve("erm", "cifar10_lt", 0)) and method_params(old) == {}
    assert method_params(erm) == {}


def test_calibration_of_the_normed_head_uses_the_logits_ldam_trains():
    # LDAM trains softmax(s * cos): ECE and NLL use those probabilities; accuracy the outputs as they are
    cos = torch.tensor([[0.9, -0.2], [0.1, 0.3], [0.5, 0.4]])
    labels = torch.tensor([0, 1, 1])
    raw = evaluate_metrics(cos, labels, [10, 1])
    scaled = evaluate_metrics(cos, labels, [10, 1], probability_scale=30.0)
    assert scaled["nll"] == pytest.approx(F.cross_entropy(30 * cos.double(), labels).item(), rel=1e-6)
    assert scaled["ece"] == pytest.approx(expected_calibration_error(30 * cos, labels), rel=1e-6)
    assert scaled["nll"] != pytest.approx(raw["nll"])
    assert {k: scaled[k] for k in ("top1", "top5", "worst", "per_class_acc")} == \
        {k: raw[k] for k in ("top1", "top5", "worst", "per_class_acc")}
    counts, labels_all = [5, 1], torch.tensor([0] * 5 + [1])
    assert Composition(resolve("ldam_drw", "cifar10_lt", 0, sets=["method.s=16"]), counts, labels_all,
                       torch.device("cpu")).probability_scale() == 16.0
    vs = Composition(resolve("vs", "cifar10_lt", 0), counts, labels_all, torch.device("cpu"))
    assert vs.probability_scale() == 1.0


# ---------------------------------------------------------------- validation split and selection (issue 12)


def test_half_split_is_deterministic_disjoint_and_class_balanced():
    from bench.datasets.selection import half_split

    labels = np.repeat(np.arange(10), 10)
    np.random.default_rng(0).shuffle(labels)
    select, report = half_split(labels)
    again_select, again_report = half_split(labels.copy())
    assert np.array_equal(select, again_select) and np.array_equal(report, again_report)
    assert not set(select) & set(report) and len(select) + len(report) == 100
    assert np.bincount(labels[select]).tolist() == [5] * 10 and np.bincount(labels[report]).tolist() == [5] * 10
    sel3, rep3 = half_split([0, 0, 0, 1, 1, 1])  # iNat: 3 per class -> 1 selects, 2 are reported
    assert len(sel3) == 2 and len(rep3) == 4


def test_best_val_selects_on_held_out_test_images_and_keeps_the_training_subset(cifar_root, tmp_path):
    from bench.datasets.registry import DATASETS

    sets = ["dataset.verify=false", "dataset.download=false", "dataset.imbalance_ratio=10"]
    plain = resolve("erm", "cifar10_lt", 0, flags={"dataset.root": str(cifar_root)}, sets=sets)
    val = resolve("erm", "cifar10_lt", 0, flags={"dataset.root": str(cifar_root)},
                  sets=[*sets, "eval.selection=best_val"])
    a, b = DATASETS["cifar10_lt"].load(plain), DATASETS["cifar10_lt"].load(val)
    assert a.train_indices_sha256 == b.train_indices_sha256 and torch.equal(a.train_x, b.train_x)
    assert len(b.val_y) + len(b.test_y) == len(a.test_y) == 100
    rows = {tuple(x.flatten().tolist()) for x in b.val_x}
    assert not any(tuple(x.flatten().tolist()) in rows for x in b.test_x)  # no image both selects and is reported
    assert b.selection["val"]["size"] == 50 and b.selection["protocol"] == "half"
    # last and best_test are one run (same id); best_val is another
    assert config_hash(resolve("erm", "cifar10_lt", 0, sets=["eval.selection=best_test"])) == \
        config_hash(resolve("erm", "cifar10_lt", 0))
    assert config_hash(val) != config_hash(plain)
    out = tmp_path / "out"
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "3", "--data-root", str(cifar_root),
                 "--out", str(out), "--no-progress", "--set", *sets, "model.name=small_cnn", "train.warmup_epochs=1",
                 "eval.selection=best_val"]) == 0
    (path,) = out.glob("*/result.json")
    result = json.loads(path.read_text())
    history = [json.loads(line) for line in (path.parent / "metrics.jsonl").read_text().splitlines()]
    best = max(history, key=lambda h: h["val_top1"])  # first of equals, as the trainer keeps
    assert result["best"]["epoch"] == best["epoch"] and result["best"]["selected_on"] == "val"
    assert result["best"]["top1"] == best["top1"] and result["selection"]["chosen_epoch"] == best["epoch"]
    assert result["selection"]["val"]["indices_sha256"] == b.selection["val"]["indices_sha256"]
    assert result["test_class_counts"] == [5] * 10
    logits = np.load(path.parent / "logits.npz")
    assert logits["test_logits"].dtype == np.float32 and logits["test_logits"].shape == (50, 10)
    assert logits["val_labels"].tolist() == b.val_y.tolist()


def test_best_val_bad_input_is_refused_at_plan_time(monkeypatch):
    import dataclasses

    from bench.datasets.registry import DATASETS

    with pytest.raises(BenchError, match="cannot also be the reported split; use dataset.eval_split=test"):
        resolve("erm", "imagenet_lt", 0, sets=["eval.selection=best_val", "dataset.eval_split=val"])
    resolve("erm", "imagenet_lt", 0, sets=["eval.selection=best_val"])
    monkeypatch.setitem(DATASETS, "cifar10_lt", dataclasses.replace(DATASETS["cifar10_lt"], selection=""))
    with pytest.raises(BenchError, match="cifar10_lt has no validation protocol"):
        resolve("erm", "cifar10_lt", 0, sets=["eval.selection=best_val"])
