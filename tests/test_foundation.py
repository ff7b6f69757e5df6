"""The foundation-model track (issue 25): CLIP through open_clip, LIFT's PEFT modules and classifier, zero-shot,
weights files, class names, test-time ensembling. Tiny random-initialised CLIPs of the real architecture family
stand in for downloaded weights (no hub access here); ViT-B/16 is built without weights to count parameters."""

import hashlib
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.cli import main
from bench.models import clip, peft

ARGS = ["--datasets", "cifar10_lt", "--epochs", "2", "--no-progress", "--set", "dataset.verify=false",
        "dataset.download=false", "model.name=clip_tiny", "train.batch_size=64", "eval.batch_size=64"]


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A 'downloaded' clip_tiny checkpoint: a random CLIP of the tiny architecture, as safetensors."""
    from safetensors.torch import save_file

    torch.manual_seed(123)
    model, _ = clip.build_clip("clip_tiny", None)
    path = tmp_path_factory.mktemp("weights") / "clip_tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


@pytest.fixture(scope="module")
def reference(tiny_weights, tmp_path_factory):
    """The same weights through open_clip's own factory (a registered config, force_quick_gelu as OpenAI's CLIP),
    not through bench.models.clip."""
    import open_clip
    from safetensors.torch import load_file

    config = tmp_path_factory.mktemp("config") / "bench-test-tiny.json"
    config.write_text(json.dumps(clip.TINY))
    open_clip.add_model_config(config)
    model = open_clip.create_model("bench-test-tiny", pretrained=None, force_quick_gelu=True)
    model.load_state_dict(load_file(str(tiny_weights)))
    return model.eval()


def _run(out):
    (run_dir,) = [p for p in out.iterdir() if (p / "result.json").is_file()]
    return json.loads((run_dir / "result.json").read_text()), run_dir


def _checkpoint(run_dir):
    from bench.store.checkpoint import decode

    return decode((run_dir / "checkpoint.pt").read_bytes(), "cpu")["model"]


def test_lift_trains_only_its_adapters_and_classifier_and_records_weights_and_counts(cifar_root, tmp_path,
                                                                                    tiny_weights):
    from safetensors.torch import load_file

    out = tmp_path / "out"
    assert main(["run", "--methods", "lift", "--data-root", str(cifar_root), *ARGS, f"model.weights={tiny_weights}",
                 "--out", str(out)]) == 0
    result, run_dir = _run(out)
    assert result["weights"] == {"source": "file", "file": str(tiny_weights),
                                 "sha256": hashlib.sha256(tiny_weights.read_bytes()).hexdigest()}
    # AdaptFormer per block of width 64, r = 2^floor(log2(10 / 4)) = 2: LN 128 + down 64*2+2 + up 2*64+64 + scale 1
    counts = result["parameters"]
    assert counts["peft_dim"] == 2 and counts["tuning_modules"] == 2 * (128 + 130 + 192 + 1)
    assert counts["classifier"] == 10 * 64 and counts["trained"] == 902 + 640
    pretrained, trained = load_file(str(tiny_weights)), _checkpoint(run_dir)
    moved = []
    for key, value in trained.items():
        if key.startswith("visual."):
            source = "visual." + key[len("visual."):].replace(".block.", ".")
            if source in pretrained:  # a pretrained tensor: bit-identical after two epochs
                assert torch.equal(value, pretrained[source]), key
                continue
        moved.append(key)
    assert moved and all(".adapter." in k or k == "head.weight" for k in moved)
    assert {k.split(".adapter.")[1] for k in moved if ".adapter." in k} == {
        "ln.weight", "ln.bias", "down.weight", "down.bias", "up.weight", "up.bias", "scale"}
    assert not torch.equal(trained["visual.transformer.resblocks.0.adapter.up.weight"], torch.zeros(64, 2))
    # the five-crop ensemble is what LIFT publishes; the single centre crop's top-1 is kept beside it
    line = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert 0 <= result["top1_without_tte"] <= 100 and line["top1_without_tte"] == result["top1_without_tte"]


def test_the_text_initialised_classifier_is_the_normalised_text_features_through_the_projection(cifar_root,
                                                                                              tiny_weights, reference):
    """LIFT trainer.py init_head_text_feat: w_c = normalize(normalize(t_c) proj^T), t_c from 'a photo of a {}.'."""
    import open_clip

    from bench.algorithms.foundation import FoundationAlgorithm
    from bench.datasets.registry import DATASETS
    from bench.plan.config import resolve

    cfg = resolve("linear_probe", "cifar10_lt", 0, sets=["model.name=clip_tiny", f"model.weights={tiny_weights}",
                                                          f"dataset.root={cifar_root}", "dataset.verify=false"])
    data = DATASETS["cifar10_lt"].load(cfg)
    algorithm = FoundationAlgorithm(cfg, data, torch.device("cpu"), "/tmp")
    net, trained = algorithm.build_model()
    names = [n.replace("_", " ") for n in data.class_names]
    with torch.no_grad():
        text = reference.encode_text(open_clip.tokenize([f"a photo of a {n}." for n in names]))
    text = text / text.norm(dim=-1, keepdim=True)
    expected = text @ reference.visual.proj.t()
    expected = expected / expected.norm(dim=-1, keepdim=True)
    assert torch.allclose(net.head.weight, expected, atol=1e-6)
    assert net.head.scale == 25.0 and [p.data_ptr() for p in trained] == [net.head.weight.data_ptr()]
    assert algorithm.param_counts["trained"] == 10 * 64


def test_the_prompts_meet_the_text_tower_on_its_device(monkeypatch):
    """The token ids go where the embedding table is (the GPU check found them left on the CPU under CUDA); a
    meta-device tower stands in for a GPU here."""
    model, _ = clip.build_clip("clip_tiny", None)
    model = model.to("meta")
    seen, encode = [], model.encode_text
    monkeypatch.setattr(model, "encode_text", lambda tokens, **kw: seen.append(tokens.device) or encode(tokens, **kw))
    assert clip.text_features(model, ["cat", "dog"], ("a photo of a {}.",)).shape == (2, 32)
    assert seen == [torch.device("meta")]


def test_zero_shot_logits_are_100_times_the_image_text_cosine(cifar_root, tmp_path, tiny_weights, reference):
    """Zero-shot CLIP (LIFT models/models.py ZeroShotCLIP): exp(logit_scale) cos(proj f(x), t_c), argmax; the test
    images through torchvision's Resize(256) + CenterCrop(224) and CLIP's normalisation."""
    import open_clip
    from torchvision.transforms import v2

    from bench.datasets.registry import DATASETS
    from bench.plan.config import resolve

    out = tmp_path / "out"
    assert main(["run", "--methods", "clip_zeroshot", "--data-root", str(cifar_root),
                 *[a for a in ARGS if a != "train.batch_size=64"],  # it trains nothing: refused (bench/plan/usage.py)
                 f"model.weights={tiny_weights}", "eval.save_logits=always", "--out", str(out)]) == 0
    result, run_dir = _run(out)
    assert result["parameters"]["trained"] == 0 and result["selection"]["chosen_epoch"] == -1
    cfg = resolve("clip_zeroshot", "cifar10_lt", 0, sets=[f"dataset.root={cifar_root}", "dataset.verify=false"])
    data = DATASETS["cifar10_lt"].load(cfg)
    prep = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Resize(256, antialias=True), v2.CenterCrop(224),
                       v2.Normalize(clip.CLIP_MEAN, clip.CLIP_STD)])
    with torch.no_grad():
        images = reference.encode_image(torch.stack([prep(x) for x in data.test_x]), normalize=True)
        text = reference.encode_text(open_clip.tokenize([f"a photo of a {n.replace('_', ' ')}." for n in
                                                         data.class_names]), normalize=True)
    expected = reference.logit_scale.exp() * images @ text.t()
    with np.load(run_dir / "logits.npz") as saved:
        logits = torch.from_numpy(saved["test_logits"])
    assert torch.allclose(logits, expected, atol=2e-3)
    top2 = expected.topk(2, dim=1).values
    decisive = ((top2[:, 0] - top2[:, 1]) > 2 * 2e-3).numpy()  # a lead larger than the logits may differ by
    with np.load(run_dir / "predictions.npz") as saved:
        assert (saved["predictions"][decisive] == expected.argmax(1).numpy()[decisive]).all()
    assert decisive.mean() > 0.5  # most images have such a lead: the comparison is not empty


def test_vit_b16_lift_trains_under_one_percent_as_the_official_formula_counts():
    """ViT-B/16 built without weights: AdaptFormer r = 32 on ImageNet-LT (1000 classes) is 617,868 parameters
    (12 x (LN 1536 + 768 r + r + 768 r + 768 + 1)), the classifier 1000 x 768 (LIFT's counts)."""
    import open_clip

    visual = open_clip.CLIP(**open_clip.get_model_config("ViT-B-16")).visual
    visual.proj = None
    total = sum(p.numel() for p in visual.parameters())
    assert peft.auto_dim(1000, 12) == 32 and peft.auto_dim(100, 12) == 4 and peft.auto_dim(365, 12) == 8
    assert peft.auto_dim(8142, 12) == 256
    trained = sum(p.numel() for p in peft.apply_tuning(visual, "adaptformer", 32, 10))
    assert trained == 12 * (1536 + 768 * 32 + 32 + 768 * 32 + 768 + 1) == 617_868  # 0.72% of the tower
    block = 3 * 768 * 768 + 3 * 768 + 768 * 768 + 768 + 2 * 1536 + 768 * 3072 + 3072 + 3072 * 768 + 768
    # the image tower without its 768 x 512 projection: patch embedding, class token, 197 positions, ln_pre, ln_post
    assert total == 768 * 3 * 16 * 16 + 768 + 197 * 768 + 1536 + 12 * block + 1536 == 85_799_424


@pytest.mark.parametrize("tuning, expected", [
    ("lora", 2 * 2 * (64 * 2 + 2 * 64)),  # q and v of each of 2 blocks: A (64 x 2), B (2 x 64)
    ("vpt_deep", 2 * 10 * 64), ("vpt_shallow", 10 * 64),
    ("bitfit", 2 * (3 * 64 + 64 + 256 + 64 + 64 + 64)),  # in_proj, out_proj, c_fc, c_proj, ln_1, ln_2 biases
    ("full", None), ("classifier", 0)])
def test_each_tuning_trains_what_the_official_tuner_does(tuning, expected):
    torch.manual_seed(0)
    model, _ = clip.build_clip("clip_tiny", None)
    visual = model.visual
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        before = visual(x)
    trained = peft.apply_tuning(visual, tuning, 2, 10)
    blocks = sum(p.numel() for p in visual.transformer.resblocks.parameters())
    assert sum(p.numel() for p in trained) == (blocks if expected is None else expected)
    with torch.no_grad():
        after = visual(x)
    if tuning.startswith("vpt"):  # prompts take part in attention: another function from the start
        assert not torch.allclose(before, after)
    else:  # LoRA's B and AdaptFormer's up-projection start at zero: the pretrained function
        assert torch.allclose(before, after, atol=1e-5)


def test_adaptformer_reads_the_residual_stream_before_ln_2():
    torch.manual_seed(0)
    model, _ = clip.build_clip("clip_tiny", None)
    visual = model.visual
    peft.apply_tuning(visual, "adaptformer", 2, 10)
    block = visual.transformer.resblocks[0]
    torch.nn.init.normal_(block.adapter.up.weight)
    x = torch.randn(2, 5, 64)
    inner = block.block
    h = x + inner.attn(inner.ln_1(x), inner.ln_1(x), inner.ln_1(x), need_weights=False)[0]
    adapter = block.adapter
    official = h + inner.mlp(inner.ln_2(h)) + adapter.scale * adapter.up(F.relu(adapter.down(adapter.ln(h))))
    assert torch.allclose(block(x), official, atol=1e-5)


def test_the_test_time_ensemble_is_the_mean_logit_of_torchvisions_five_crops():
    from torchvision.transforms import v2

    from bench.algorithms.foundation import five_crop_logits

    x = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)

    class Pipe:
        test_labels = [0, 1, 2]

        def test_views(self, order, batch_size, generator, kinds):
            from bench.images.views import build_view

            yield tuple(build_view(k, 32)(x[order], generator).float() for k in kinds)

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 224 * 224, 4))
    got = five_crop_logits(model, Pipe(), 8, None, 224, 24)
    crops = v2.FiveCrop(224)(v2.Resize(248, antialias=True)(x))
    with torch.no_grad():
        expected = torch.stack([model(c.float()) for c in crops]).mean(0)
    assert torch.allclose(got, expected, atol=1e-4)


def test_micro_batches_accumulate_to_the_whole_batch_step():
    """Gradient accumulation (LIFT's micro_batch_size): the same step as the whole batch at once."""
    import contextlib
    from types import SimpleNamespace

    from bench.algorithms.foundation import FoundationAlgorithm
    from bench.algorithms.step import Step

    def step(micro):
        torch.manual_seed(0)
        net = torch.nn.Linear(6, 3)
        algorithm = FoundationAlgorithm.__new__(FoundationAlgorithm)
        algorithm.cfg = {"method": {"micro_batch": micro}}
        algorithm.method = SimpleNamespace(loss_value=lambda z, t: F.cross_entropy(z, t[0]))
        s = Step(net=net, model=net, optimizer=torch.optim.SGD(net.parameters(), lr=0.5),
                 autocast=contextlib.nullcontext, memory_format=torch.contiguous_format)
        loss, logits = algorithm.train_step(s, torch.randn(10, 6, generator=torch.Generator().manual_seed(1)),
                                            torch.arange(10) % 3)
        return net.weight.detach(), float(loss), logits

    whole, accumulated = step(0), step(3)
    assert torch.allclose(whole[0], accumulated[0], atol=1e-6) and math.isclose(whole[1], accumulated[1],
                                                                                 rel_tol=1e-6)
    assert accumulated[2].shape == (10, 3)


def test_class_names_for_prompts(tmp_path):
    from types import SimpleNamespace

    from bench.datasets import classnames
    from bench.errors import BenchError

    items = [("data_256/a/airfield/1.jpg", 0), ("data_256/b/bus_station/indoor/2.jpg", 1), ("train/zoo/3.jpg", 2)]
    assert classnames.folder_names(items, 3) == ["airfield", "bus_station/indoor", "zoo"]
    (tmp_path / "classnames.txt").write_text("n01440764 tench\ngreat white shark\narena-hockey arena-hockey\n")
    assert classnames.read_names_file(tmp_path / "classnames.txt", 3) == ["tench", "great white shark",
                                                                         "arena-hockey"]
    with pytest.raises(BenchError, match="names 3 classes, the dataset has 4"):
        classnames.read_names_file(tmp_path / "classnames.txt", 4)
    data = SimpleNamespace(name="places_lt", num_classes=2, class_names=["bus_station/indoor", "aquarium_fish"])
    assert classnames.prompt_names(data) == ["bus station indoor", "aquarium fish"]
    imagenet = classnames.prompt_names(SimpleNamespace(name="imagenet_lt", num_classes=1000, class_names=[]))
    assert imagenet[:2] == ["tench", "goldfish"] and len(imagenet) == 1000
    with pytest.raises(BenchError, match="no name for class 1 .*classnames.txt"):
        classnames.prompt_names(SimpleNamespace(name="inat2018", num_classes=3, class_names=["a", "", ""]))


@pytest.mark.parametrize("content, match", [
    (b"not a checkpoint", "cannot be read safely"),
    (None, "does not fit model clip_tiny"),
    ("torchscript", "is a TorchScript archive"),
])
def test_a_bad_weights_file_is_one_line_and_exit_2_before_anything_is_written(cifar_root, tmp_path, capsys,
                                                                              content, match):
    path = tmp_path / "w.pt"
    if content is None:  # a checkpoint of another architecture (a timm ResNet's state_dict)
        import timm

        torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), path)
    elif content == "torchscript":  # OpenAI's original release format
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    else:
        path.write_bytes(content)
    out = tmp_path / "out"
    assert main(["run", "--methods", "lift", "--data-root", str(cifar_root), *ARGS, f"model.weights={path}",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_a_lift_run_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    from conftest import stop_and_resume

    def finished(out):
        result, run_dir = _run(out)
        return result["last"], (run_dir / "metrics.jsonl").read_text(), {
            k: v.tolist() for k, v in _checkpoint(run_dir).items()}

    args = [("1" if a == "2" else a) for a in ARGS]  # one epoch (the stop falls inside it), no ensemble
    argv = ["run", "--methods", "lift", "--data-root", str(cifar_root), *args, "model.weights=null",
            "train.batch_size=32", "method.tte=false"]
    plain, cut = stop_and_resume(argv, tmp_path)
    assert finished(cut) == finished(plain)


def test_on_image_lists_the_ensemble_is_drawn_in_the_workers_and_names_come_from_the_folders(tmp_path, tiny_weights,
                                                                                            reference):
    """Places-LT: class names from the category folders; zero-shot with LIFT's five crops (method.tte) equals
    the mean logit over torchvision's FiveCrop(224) of Resize(248) of each decoded test image."""
    import open_clip
    from conftest import write_places_lt
    from torchvision.transforms import v2

    from bench.images import jpeg

    root = write_places_lt(tmp_path / "data")
    out = tmp_path / "out"
    assert main(["run", "--methods", "clip_zeroshot", "--datasets", "places_lt", "--data-root", str(root),
                 "--no-progress", "--set", "model.name=clip_tiny", f"model.weights={tiny_weights}", "method.tte=true",
                 "loader.workers=1", "dataset.path_rewrite=[data_256/a/=train/]", "dataset.check_split=false",
                 "eval.save_logits=always", "--out", str(out)]) == 0
    result, run_dir = _run(out)
    names = ["abbey", "airfield", "alley", "amphitheater", "arch"]
    assert result["class_names"] == names
    tests = [line.split()[0].replace("data_256/a/", "train/")
             for line in (root / "Places_LT" / "Places_LT_test.txt").read_text().splitlines()]
    prep = v2.Compose([v2.Resize(248, antialias=True), v2.FiveCrop(224)])
    norm = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(clip.CLIP_MEAN, clip.CLIP_STD)])
    with torch.no_grad():
        text = reference.encode_text(open_clip.tokenize([f"a photo of a {n}." for n in names]), normalize=True)
        expected = []
        for rel in tests:
            image = jpeg.decode_full(jpeg.Encoded((root / "places365" / rel).read_bytes()))
            crops = torch.stack([norm(c) for c in prep(image)])
            logits = reference.logit_scale.exp() * reference.encode_image(crops, normalize=True) @ text.t()
            expected.append(logits.mean(0))
    with np.load(run_dir / "logits.npz") as saved:
        assert torch.allclose(torch.from_numpy(saved["test_logits"]), torch.stack(expected), atol=2e-3)


def test_imagenet_lt_reads_lifts_classnames_file(tmp_path):
    from conftest import write_imagenet_lt

    from bench.datasets.registry import DATASETS
    from bench.plan.config import resolve

    root = write_imagenet_lt(tmp_path / "data")
    (root / "ImageNet_LT" / "classnames.txt").write_text(
        "".join(f"n0{1440764 + i} class_{i} name\n" for i in range(5)))
    cfg = resolve("lift", "imagenet_lt", 0, sets=[f"dataset.root={root}", "model.name=clip_tiny", "model.weights=null",
                                                   "dataset.check_split=false"])
    assert DATASETS["imagenet_lt"].load(cfg).class_names == [f"class_{i} name" for i in range(5)]


def test_the_report_counts_trained_parameters():
    from types import SimpleNamespace

    from bench.report.parameters import parameters_table
    from bench.report.tables import to_markdown

    setting = ("imagenet_lt", "natural", None, 0, "test")
    counts = {"total": 87_185_292, "trained": 1_385_868, "trained_fraction": 1_385_868 / 87_185_292,
              "tuning_modules": 617_868, "classifier": 768_000, "peft_dim": 32}
    cells = {(setting, "lift"): SimpleNamespace(runs=[SimpleNamespace(result={"parameters": counts})]),
             (setting, "erm"): SimpleNamespace(runs=[SimpleNamespace(result={})])}
    text = to_markdown(parameters_table(cells))
    assert "| lift on imagenet_lt natural | 1.386M | 87.185M | 1.590% | 0.618M | 0.768M |" in text and "erm" not in text
    assert parameters_table({(setting, "erm"): cells[(setting, "erm")]}) is None


def test_a_timm_backbone_loads_a_weights_file_and_the_result_records_its_sha256(cifar_root, tmp_path):
    import timm

    torch.manual_seed(5)
    donor = timm.create_model("test_resnet", pretrained=False, num_classes=1000)  # timm's model for tests
    path = tmp_path / "test_resnet.pth"
    torch.save(donor.state_dict(), path)  # with its ImageNet classifier, which is skipped
    out = tmp_path / "out"
    assert main(["run", "--methods", "erm", "--data-root", str(cifar_root), "--datasets", "cifar10_lt", "--epochs",
                 "1", "--no-progress", "--set", "dataset.verify=false", "dataset.download=false",
                 "model.name=timm:test_resnet", f"model.weights={path}", "train.lr=1e-9", "train.weight_decay=0",
                 "train.momentum=0", "--out", str(out)]) == 0
    result, run_dir = _run(out)
    assert result["weights"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    trained = _checkpoint(run_dir)
    first = next(iter(donor.state_dict()))
    assert torch.allclose(trained[f"0.net.{first}"], donor.state_dict()[first], atol=1e-6)


@pytest.mark.parametrize("method, precision", [("linear_probe", "fp32"), ("full_finetune", "bf16")])
def test_the_baselines_train_what_lift_says_they_do(cifar_root, tmp_path, tiny_weights, method, precision):
    """Classifier-only: the image tower stays the pretrained one; full fine-tuning: every transformer block moves,
    the stem (patch embedding, class token, positions, ln_pre) and ln_post stay (LIFT's full_tuning)."""
    from safetensors.torch import load_file

    out = tmp_path / "out"
    assert main(["run", "--methods", method, "--data-root", str(cifar_root), *ARGS, f"model.weights={tiny_weights}",
                 f"train.precision={precision}", "--out", str(out)]) == 0
    result, run_dir = _run(out)
    pretrained, trained = load_file(str(tiny_weights)), _checkpoint(run_dir)
    same = {k for k, v in trained.items() if k.startswith("visual.")
            and torch.equal(v, pretrained["visual." + k[len("visual."):].replace(".block.", ".")])}
    visual = {k for k in trained if k.startswith("visual.")}
    if method == "linear_probe":
        assert same == visual and result["parameters"]["trained"] == 640
    else:
        assert {k for k in visual - same} == {k for k in visual if ".resblocks." in k}
        assert result["parameters"]["trained"] == 640 + sum(v.numel() for k, v in trained.items()
                                                            if ".resblocks." in k)



def test_openais_clip_is_built_with_quickgelu_as_its_weights_need():
    """open_clip's ViT-B-16 config alone builds GELU; OpenAI's weights (and LIFT's CLIP) need QuickGELU."""
    import open_clip
    from open_clip.transformer import QuickGELU

    assert open_clip.get_pretrained_cfg("ViT-B-16", "openai")["quick_gelu"] is True
    for name in ("clip_tiny", "clip_vit_b16"):
        model, _ = clip.build_clip(name, None)
        assert isinstance(model.visual.transformer.resblocks[0].mlp.gelu, QuickGELU)
        assert isinstance(model.transformer.resblocks[0].mlp.gelu, QuickGELU)
    assert clip.quick_gelu("ViT-B-16", "laion2b_s34b_b88k") is False  # LAION's tags: plain GELU


def test_vpt_and_lora_match_the_official_forward():
    """VPT appends prompts after the image tokens (deep: each block drops the previous prompts); LoRA adds
    x A B / r to q and v (LIFT models/peft_vit.py), checked against the attention written out by hand."""
    torch.manual_seed(0)
    model, _ = clip.build_clip("clip_tiny", None)
    visual = model.visual
    peft.apply_tuning(visual, "lora", 2, 10)
    block = visual.transformer.resblocks[0]
    torch.nn.init.normal_(block.lora_q.b)
    torch.nn.init.normal_(block.lora_v.b)
    x = torch.randn(2, 5, 64)
    inner, attn = block.block, block.block.attn
    h = inner.ln_1(x)
    q, k, v = F.linear(h, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q = q + h @ block.lora_q.a @ block.lora_q.b / 2
    v = v + h @ block.lora_v.a @ block.lora_v.b / 2
    heads = [torch.softmax(q[..., i:i + 32] @ k[..., i:i + 32].transpose(1, 2) / math.sqrt(32), -1) @ v[..., i:i + 32]
             for i in (0, 32)]
    y = x + attn.out_proj(torch.cat(heads, -1))
    assert torch.allclose(block(x), y + inner.mlp(inner.ln_2(y)), atol=1e-5)

    model, _ = clip.build_clip("clip_tiny", None)
    peft.apply_tuning(model.visual, "vpt_deep", 2, 3)
    first, second = model.visual.transformer.resblocks[:2]
    tokens = torch.randn(2, 50, 64)  # class token + 7 x 7 patches
    with_prompts = torch.cat([tokens, first.prompt.expand(2, -1, -1)], 1)
    assert torch.equal(first.block(with_prompts), first(tokens))
    out = first(tokens)
    assert out.shape == (2, 53, 64)  # the second block replaces the first one's 3 prompts with its own
    assert torch.equal(second(out), second.block(torch.cat([out[:, :50], second.prompt.expand(2, -1, -1)], 1)))


def test_the_cosine_head_computes_in_fp32_under_autocast():
    head = clip.CosineHead(torch.randn(10, 64), 100.0)
    x = torch.randn(4, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = head(x.bfloat16())
    assert mixed.dtype == torch.float32
    assert torch.allclose(mixed, head(x.bfloat16().float()), atol=1e-5)


def test_the_ensemble_is_refused_where_the_device_decodes():
    from bench.errors import BenchError
    from bench.plan.config import resolve

    with pytest.raises(BenchError, match="five crops .* loader.decode=workers or method.tte=false"):
        resolve("lift", "imagenet_lt", 0, sets=["loader.decode=device"])
    assert resolve("lift", "imagenet_lt", 0, sets=["loader.decode=device", "method.tte=false"])


def test_hub_weights_are_refused_for_a_model_that_declares_none():
    """A test model declares it has no published weights (ModelInfo.hub_weights): hub weights are refused naming it,
    whatever its name; without weights it plans."""
    from bench.errors import BenchError
    from bench.models.registry import MODELS
    from bench.plan.config import resolve

    assert [n for n, info in MODELS.items() if not info.hub_weights] == ["clip_tiny"]
    with pytest.raises(BenchError, match="model clip_tiny is a random-initialised test model .* model.weights=null"):
        resolve("lift", "fashion_mnist_lt", 0, sets=["model.name=clip_tiny"])
    assert resolve("lift", "fashion_mnist_lt", 0, sets=["model.name=clip_tiny", "model.weights=null"])
