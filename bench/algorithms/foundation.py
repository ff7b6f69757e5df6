"""The foundation-model track on the algorithm protocol: a CLIP model the method adapts (LIFT, Shi et al., ICML
2024, shijxcs/LIFT), and its baselines (zero-shot CLIP, classifier-only, full fine-tuning).

build_model() builds the open_clip CLIP of model.name with model.weights, encodes the prompts of the class names
with the text tower (which is then dropped: nothing in it trains), and returns the image model and only the
parameters that train (bench.models.peft). Training views: RandomResizedCrop(224) + flip (in-memory images are
upsampled by the crop, as the official code's torchvision transforms do on CIFAR's 32 px images; image lists use the
workers' own RandomResizedCrop). Test: Resize(256) + CenterCrop(224), or with method.tte the mean logits of five
crops. Zero-shot trains nothing: its run is one evaluation (epoch -1 in metrics.jsonl).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from bench.algorithms.standard import StandardAlgorithm
from bench.algorithms.step import Step
from bench.parts.losses.ldam import S
from bench.parts.part import Param, Part, Traits
from bench.runconfig import RunConfig, TrainSection

if TYPE_CHECKING:
    import torch
    from torch import nn



class FoundationAlgorithm(StandardAlgorithm):
    def __init__(self, cfg: RunConfig, data: Any, device: torch.device, run_dir: Any):
        super().__init__(cfg, data, device, run_dir)
        self.side = 224  # the model's input side (build_model reads it from the model)
        self.param_counts: dict = {}

    def train_config(self) -> TrainSection:
        t = self.cfg["train"]
        return TrainSection(**{**t, "epochs": 0}) if self.cfg["method"]["tuning"] == "zeroshot" else t

    def build_model(self) -> tuple[nn.Module, list]:
        from bench.datasets.classnames import prompt_names
        from bench.models import clip
        from bench.models.peft import apply_tuning, auto_dim

        m, name = self.cfg["method"], self.cfg["model"]["name"]
        model, record = clip.build_clip(name, self.cfg["model"]["weights"])
        if record is not None:
            self.weights.append(record)
        visual: Any = model.visual
        self.side = int(visual.image_size[0])
        zeroshot = m["tuning"] == "zeroshot"
        if m["head_init"] == "text" or zeroshot:  # the text tower on the run's device: 1000s of prompts
            text = clip.text_features(model.to(self.device), prompt_names(self.data), templates(m["prompts"]))
            weight = text if zeroshot else clip.head_from_text(text, visual.proj)
        else:
            weight = clip.random_head(self.data.num_classes, visual.proj.shape[0])
        scale = float(model.logit_scale.detach().exp()) if zeroshot else float(m["s"])
        if not zeroshot:
            visual.proj = None  # LIFT's head reads the class token after ln_post, before the projection
        layers = len(visual.transformer.resblocks)
        dim = m["peft_dim"] or auto_dim(self.data.num_classes, layers)
        trained = apply_tuning(visual, m["tuning"], dim, m["vpt_length"])
        head = clip.CosineHead(weight, scale)
        head.requires_grad_(not zeroshot)
        front = clip.ClipInput(tuple(self.data.mean), tuple(self.data.std), self.side)
        net = clip.ClipImageModel(front, visual, head)
        trained += list(head.parameters()) if not zeroshot else []
        self.param_counts = parameter_counts(net, trained, dim if m["tuning"] in ("adaptformer", "lora") else None)
        if self.data.in_memory:  # in-memory images: LIFT's crop, upsampling to the model's side
            self.views = (f"rrc_flip@{self.side}",)
        return net, trained

    def build_optimizer(self, params: Any) -> torch.optim.Optimizer:
        import torch
        from torch import nn

        params = list(params)
        if not params:  # zero-shot: nothing trains, no step is taken
            params = [nn.Parameter(torch.zeros(1))]
        return super().build_optimizer(params)

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step over the batch, in micro-batches of method.micro_batch (gradient accumulation: each
        micro-batch's mean loss weighted by its share of the batch, so the step equals the whole batch's)."""
        import torch

        images = images[0] if isinstance(images, tuple) else images
        size = self.cfg["method"]["micro_batch"] or len(labels)
        s.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=labels.device)
        outputs: list[torch.Tensor] = []
        pieces = list(zip(images.split(size), labels.split(size)))
        for i, (x, y) in enumerate(pieces):
            with s.accumulating(last=i == len(pieces) - 1):
                with s.autocast():
                    logits = s.net(x)
                loss = self.method.loss_value(logits.float(), (y, None, 1.0)) * (len(y) / len(labels))
                s.backward(loss)
            total = total + loss.detach()
            outputs.append(logits.detach())
        s.step()
        return total, torch.cat(outputs)

    def predict(self, model: nn.Module, pipe: Any, batch_size: int, autocast: Any, split: str = "test") -> torch.Tensor:
        """Logits; with method.tte the test split's are the five crops' mean, and the single-crop top-1 is kept
        beside them (evaluation_extra: `top1_without_tte`)."""
        import torch

        from bench.models import clip

        plain = super().predict(model, pipe, batch_size, autocast, split)
        if not (self.cfg["method"]["tte"] and split == "test"):
            return plain
        labels = torch.as_tensor(pipe.test_labels)
        self.extra = {"top1_without_tte": 100.0 * float((plain.argmax(1) == labels).float().mean())}
        expand = self.cfg["method"]["tte_expand"] or clip.EXPAND[self.cfg["model"]["name"]]
        return five_crop_logits(model, pipe, batch_size, autocast, self.side, expand)

    def evaluation_extra(self) -> dict:
        return dict(getattr(self, "extra", {}))

    def result_extra(self, last: dict) -> dict:
        kept = {"top1_without_tte": last["top1_without_tte"]} if "top1_without_tte" in last else {}
        return {"parameters": self.param_counts, **kept}


def templates(kind: str) -> tuple:
    from bench.models import clip

    if kind == "ensemble":
        from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

        return tuple(OPENAI_IMAGENET_TEMPLATES)
    return (clip.PROMPT,)


def parameter_counts(net: Any, trained: list, dim: int | None) -> dict:
    """result.json `parameters`: the image model's parameters (the text tower is not part of it), those that
    train, their share, the PEFT modules' own count (without the classifier)."""
    total = sum(p.numel() for p in net.parameters())
    n_trained = sum(p.numel() for p in trained)
    head = sum(p.numel() for p in net.head.parameters()) if trained else 0
    return {"total": total, "trained": n_trained, "trained_fraction": n_trained / total,
            "tuning_modules": n_trained - head, "classifier": head, "peft_dim": dim}


def five_crop_logits(model: nn.Module, pipe: Any, batch_size: int, autocast: Any, side: int,
                     expand: int) -> torch.Tensor:
    """LIFT's test-time ensembling: the mean over FiveCrop(side) of Resize(side + expand) of each test image's
    logits (bench.images.clipviews; the views are deterministic: the generator draws nothing)."""
    import torch

    from bench.images.clipviews import tte_kinds

    model.eval()
    out = []
    order = torch.arange(len(pipe.test_labels))
    views_of = pipe.test_views(order, batch_size, torch.Generator().manual_seed(0), tte_kinds(side, expand))
    with torch.no_grad():
        for views in views_of:
            if not isinstance(views, tuple) or len(views) != 5:
                raise RuntimeError("the pipeline gave no five crops of the test images (loader.decode=device?)")
            with autocast() if autocast else contextlib.nullcontext():
                out.append(torch.stack([model(v).float() for v in views]).mean(0).cpu())
    return torch.cat(out)


TUNINGS = ("zeroshot", "classifier", "full", "adaptformer", "lora", "vpt_shallow", "vpt_deep", "bitfit")


_LIFT = "shijxcs/LIFT configs/model/clip_vit_b16.yaml, utils/config.py"


PARAMS = (
    Param("tuning", "adaptformer", "what trains: zeroshot (nothing: text classifier), classifier (the head), full "
          "(every transformer block), or the head plus a PEFT module: adaptformer, lora (q, v), vpt_shallow, "
          "vpt_deep, bitfit (biases)", source="shijxcs/LIFT models/peft_vit.py ViT_Tuner", choices=TUNINGS),
    Param("peft_dim", 0, "AdaptFormer bottleneck / LoRA rank; 0: 2^floor(log2(classes / (2 layers))) (ViT-B/16: "
          "CIFAR-100 4, ImageNet-LT 32, Places-LT 8, iNaturalist 256)", source="shijxcs/LIFT models/peft_vit.py",
          check=lambda v: 0 <= v <= 65536, phrase="from 0 (automatic) to 65536"),
    Param("vpt_length", 10, "VPT: prompt tokens per prompted block", source="shijxcs/LIFT models/peft_vit.py",
          check=lambda v: 1 <= v <= 4096, phrase="from 1 to 4096"),
    Param("head_init", "text", "the cosine classifier's start: text (features of the prompts through the image "
          "projection's transpose) or random", source=_LIFT + " (init_head text_feat)", choices=("text", "random")),
    Param("prompts", "single", "single ('a photo of a {}.') or ensemble (CLIP's 80 ImageNet templates, averaged)",
          source=_LIFT + " (prompt default)", choices=("single", "ensemble")),
    Param("tte", False, "test-time ensembling: the mean logits of FiveCrop(side) after Resize(side + tte_expand) "
          "(the test evaluations; not the validation ones)", source="shijxcs/LIFT trainer.py (tte, tte_mode fivecrop)"),
    Param("tte_expand", 0, "pixels added to the side before the five crops; 0: the model's (ViT-B/16 24, ViT-L/14 "
          "21)", source="shijxcs/LIFT configs/model/clip_vit_b16.yaml, clip_vit_l14.yaml (expand)",
          check=lambda v: 0 <= v <= 1024, phrase="from 0 (the model's) to 1024"),
    Param("micro_batch", 0, "gradient accumulation: micro-batches of this size per optimizer step (0: the whole "
          "batch at once)", source=_LIFT + " (micro_batch_size)", check=lambda v: 0 <= v <= 1 << 20,
          phrase="from 0 (no accumulation) to 1048576"),
)


PART = Part("algorithm", "foundation", "a pretrained CLIP image tower, frozen except the `tuning` modules, "
            "with a text-initialised cosine classifier (s cos) and the method's loss; zero-shot: the text "
            "classifier itself", params=(*PARAMS, S),
            source="Shi et al., ICML 2024 (LIFT); shijxcs/LIFT models/, trainer.py",
            build=lambda: FoundationAlgorithm,
            traits=Traits(no_mix="the foundation-model track trains on plain batches", clip=True,
                          head="normed"))  # a cosine classifier (CosineHead)
