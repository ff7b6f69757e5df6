"""RIDE's expert-assignment router (Wang et al., ICLR 2021, stage 2), as frank-xwang/RIDE-LongTailRecognition
model/ldam_drw_resnets/ea_resnet_cifar.py and model/fb_resnets/EAResNet.py do it.

A child of a finished `ride` run. Its experts stay frozen (BN in eval mode); one router per expert but the last
decides whether the next expert runs. Router k reads expert k's pooled feature, L2-normalised, through its own
Linear(features, 16) + ReLU, and the top-K values (sorted, descending) of the mean s-scaled logits of experts
0..k (K = method.ride_router_top_k: 30 on CIFAR and ResNet-10, 50 on ResNet-50 / ResNeXt-50; at most the
number of classes); one Linear(K + 16, 1) shared by every router gives the logit of "the next expert helps".

Training (every expert runs on every image): with S_i the sum of the logits of experts 0..i and c_i whether
argmax S_i is right, router i's target is (not c_i) and (c_j for some j > i); the loss is the binary cross-entropy
with logits and pos_weight (method.ride_router_pos_weight, 100), averaged over the batch and the routers. The
official recipe: 5 epochs, SGD lr 0.01 Nesterov momentum 0.9, weight decay 5e-4, batch 512, cosine to 0, a
class-balanced sampler (bench's class_uniform: classes drawn uniformly, images i.i.d. within a class; the official
BalancedSampler cycles each class's shuffled list).

Inference: expert 0 runs on every image; router k sends an image on to expert k + 1 when its logit is above 0
(sigmoid above 0.5), and an image that stops never resumes; the prediction is the mean of the logits of the
experts it used. The result reports the share of test images that used 1, 2, ... experts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bench.algorithms.experts import EXPERTS, REDUCE_EXPERTS
from bench.algorithms.protocol import Hook
from bench.algorithms.stage2 import Stage2Algorithm
from bench.algorithms.step import Step
from bench.errors import BenchError
from bench.parts.part import Param, Part, Stage, Traits
from bench.runconfig import RunConfig

if TYPE_CHECKING:
    import torch
    from torch import nn



class FrozenExperts(Hook):
    """The experts' BN statistics stay as the parent left them: eval mode after each model.train()."""

    def before_train_epoch(self, t: Any, epoch: int) -> None:
        t.model.experts.eval()


class RouterAlgorithm(Stage2Algorithm):
    """Stage 2 on a finished ride run: only the router trains (the parent's weights loaded, every expert frozen)."""

    def build_model(self) -> tuple[nn.Module, Iterable]:
        import torch

        from bench.algorithms.experts import ExpertAlgorithm
        from bench.models.experts import MultiExpert
        from bench.models.routers import RoutedExperts, Router
        from bench.store import checkpoint

        m, parent = self.cfg["method"], self.stage.parent
        experts, _ = ExpertAlgorithm(self.cfg, self.data, self.device, self.run_dir).build_model()
        assert isinstance(experts, MultiExpert)
        ckpt = checkpoint.load_final(self.stage.parent_dir, (parent.get("last") or {}).get("epoch"),
                                     torch.device("cpu"), parent.get("method") or "ride")
        try:
            experts.load_state_dict(ckpt["model"])
        except RuntimeError:  # planning refuses what shapes it otherwise (bench.plan.runs.check_parent_model)
            raise BenchError(f"parent run {self.stage.parent_dir.name} has another network than this router loads "
                             "(experts, heads); run the ride parent this child names") from None
        for p in experts.parameters():
            p.requires_grad_(False)
        top_k = min(int(m["ride_router_top_k"]), self.data.num_classes)
        kaiming = self.cfg["model"]["name"] in ("resnet32", "small_cnn")  # the CIFAR model's init
        router = Router(experts.out_features, len(experts.branches), top_k, kaiming)
        model = RoutedExperts(experts, router, float(m["s"]), float(m["ride_router_pos_weight"]))
        return model, router.parameters()

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = images.contiguous(memory_format=s.memory_format)
        with s.autocast():
            loss, mean = s.net(images, labels)
        s.optimize(loss.float())
        return loss.detach(), mean.detach()

    def predict(self, model: nn.Module, pipe: Any, batch_size: int, autocast: Any, split: str = "test") -> torch.Tensor:
        import torch
        from torch import nn

        from bench.models.routers import RoutedExperts

        assert isinstance(model, RoutedExperts)
        routed: RoutedExperts = model  # narrowed for the class below
        counts = torch.zeros(len(model.experts.branches), dtype=torch.long)

        class Counting(nn.Module):  # the shared predict loop, counting the experts each batch used
            def __init__(self) -> None:
                super().__init__()
                self.inner = routed

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                out = routed(x)
                assert routed.used is not None  # set by every inference batch
                counts.add_(torch.bincount(routed.used.cpu() - 1, minlength=len(counts)))
                return out

        logits = super().predict(Counting(), pipe, batch_size, autocast, split)
        if split == "test":
            self.usage = (counts.double() / counts.sum()).tolist()
        return logits

    def evaluation_extra(self) -> dict:
        """The share of test images that used 1, 2, ... experts, and the mean number."""
        usage = getattr(self, "usage", None)
        if usage is None:
            return {}
        return {"experts_used_share": usage,
                "experts_used_mean": sum((k + 1) * p for k, p in enumerate(usage))}

    def result_extra(self, last: dict) -> dict:
        if "experts_used_share" not in last:
            return {}
        return {"routing": {k: last[k] for k in ("experts_used_share", "experts_used_mean")}}

    def hooks(self) -> list:
        return [FrozenExperts()]


_EA = "frank-xwang/RIDE-LongTailRecognition configs/*_ride_ea.json"


# No build(): the stage computation below (stage.train: router) builds RouterAlgorithm; the part declares the router's
# hyper-parameters and traits for the method that names it (ride_ea).
PART = Part("algorithm", "ride_router", "RIDE's expert-assignment router on a finished ride run's frozen "
            "experts: one small router per expert but the last decides whether the next expert runs; the "
            "prediction is the mean of the experts an image used",
            params=(EXPERTS, REDUCE_EXPERTS,
                    Param("ride_router_top_k", 30, "K: the router reads the top-K mean logits (at most the "
                          "number of classes)", source=_EA + " top_choices_num (ResNet-50, ResNeXt-50: 50)",
                          check=lambda v: 1 <= v <= 100000, phrase="from 1 to 100000"),
                    Param("ride_router_pos_weight", 100.0, "weight of the positive class ('the next expert "
                          "helps') in the router's binary cross-entropy: more experts, more accuracy",
                          source=_EA + " pos_weight", check=lambda v: 0 < v <= 1e6,
                          phrase="positive (at most 1e6)")),
            source="Wang et al., ICLR 2021; frank-xwang/RIDE-LongTailRecognition "
                   "model/ldam_drw_resnets/ea_resnet_cifar.py, model/fb_resnets/EAResNet.py",
            probability_scale="s",
            traits=Traits(experts=True, no_mix="the router trains on plain batches",
                          own_loss="the routers' binary cross-entropy"))


def _unused(cfg: RunConfig) -> dict[str, str]:
    why = f"{cfg['method']['name']}'s router starts from its parent's last epoch, with Nesterov momentum"
    return {"stage.start": why, "train.nesterov": why}


STAGES = (Stage("train", "router", "RIDE's expert-assignment routers on the parent's frozen experts",
                build=lambda: RouterAlgorithm, train_section=(("nesterov", True),),  # _EA: nesterov true
                reads=("start", "epochs", "lr", "weight_decay", "batch_size"), unused=_unused),)
