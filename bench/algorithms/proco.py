"""ProCo, probabilistic contrastive learning (Du, Wang, Song and Huang, TPAMI 2024), as LeapLabTHU/ProCo (af9e78e)
main.py / ProCo_cifar/main.py (train, lines 469-491 / 370-392), loss/proco.py and loss/logitadjust.py do it.

The network (bench.models.proconet): the backbone, a classifier (nn.Linear on CIFAR, s cos on the large datasets) and
a projection head Linear - BN - ReLU - Linear, L2-normalised. The three views of a batch (view 0: the classification
view, crop + flip + the augment section's policy and Cutout; views 1 and 2: SimAugment) go through it in one forward
pass (BN statistics over all of them). With LA(x) = CE(x + log pi, y):

    loss = LA(classifier logits of view 0) + alpha (LA(l(z_1)) + LA(l(z_2))) / 2

l(z) the closed-form expected contrastive logits of the projections against a von Mises-Fisher estimate per class
(bench.models.vmf). The estimate ProCo uses in epoch e is the running mean of the features of epoch e - 1 and of
epoch e so far (two estimators: at each epoch start the current one becomes the previous and a fresh one starts);
each view's features, gathered over the processes, are folded into both before its logits are computed. The
prediction is the classifier's plain logits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bench.algorithms.protocol import gathered, log_prior
from bench.algorithms.standard import StandardAlgorithm
from bench.algorithms.step import Step
from bench.models.registry import MODELS
from bench.parts.part import Param, Part, Traits
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch
    from torch import nn

    from bench.models.vmf import ClassStatistics


class ProCoStatistics:
    """loss/proco.py:216-269: the estimator of this epoch and the previous one, both updated by every view; logits
    use the previous one. `epoch`: the epoch they are at (-1 before the first), so that a resumed epoch does not
    move them on again."""

    def __init__(self, classes: int, dim: int, device: torch.device):
        self.classes, self.dim, self.device, self.epoch = classes, dim, device, -1
        self.current: ClassStatistics | None = None
        self.previous: ClassStatistics | None = None

    def next_epoch(self, epoch: int, generator: torch.Generator) -> None:
        """_hook_before_epoch: the current estimator becomes the previous one, a fresh one starts (the first epoch:
        both fresh, as the official code's two estimators are at construction)."""
        from bench.models.vmf import ClassStatistics

        def fresh() -> ClassStatistics:
            return ClassStatistics(self.classes, self.dim, self.device, generator)

        self.previous, self.current, self.epoch = self.current or fresh(), fresh(), epoch

    def observe(self, features: torch.Tensor, labels: torch.Tensor) -> ClassStatistics:
        """Fold a view's (gathered) features into both estimators; the one its logits use."""
        assert self.previous is not None and self.current is not None, "next_epoch() first"
        self.previous.update(features, labels)
        self.current.update(features, labels)
        return self.previous

    def state_dict(self) -> dict | None:
        if self.previous is None or self.current is None:
            return None
        return {"epoch": self.epoch, "previous": (self.previous.mean, self.previous.count),
                "current": (self.current.mean, self.current.count)}

    def load_state_dict(self, state: dict | None) -> None:
        if state is None:
            return
        import torch

        self.next_epoch(state["epoch"], torch.Generator())
        for name in ("previous", "current"):
            stats, (mean, count) = getattr(self, name), state[name]
            stats.mean, stats.count = mean.to(self.device), count.to(self.device)


class ProCoAlgorithm(StandardAlgorithm):
    views = ("train", "simclr", "simclr")

    def build_model(self) -> tuple[nn.Module, Iterable]:
        from bench.models.proconet import ProCoNet

        m = self.cfg["method"]
        backbone = MODELS.get_or_fail(self.cfg["model"]["name"]).build(self.data.in_channels)
        model = ProCoNet(backbone, self.data.num_classes, m["proco_hidden"], m["proco_dim"], m["proco_scale"])
        return model, model.parameters()

    def setup(self) -> None:
        super().setup()
        self.log_prior = log_prior(self.data.train_counts, self.device)
        self.stats = ProCoStatistics(self.data.num_classes, self.cfg["method"]["proco_dim"], self.device)

    def start_epoch(self, epoch: int, generator: torch.Generator) -> tuple[torch.Tensor, bool]:
        """The epoch's order, then one draw from its generator that seeds the fresh estimator's random start (drawn
        also when a resumed epoch keeps its saved estimators, so every epoch's later draws stay the same)."""
        import torch

        order, rebalance = super().start_epoch(epoch, generator)
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
        if epoch != self.stats.epoch:
            self.stats.next_epoch(epoch, torch.Generator().manual_seed(seed))
        return order, rebalance

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        import torch
        import torch.nn.functional as F

        from bench.models.vmf import contrast_logits

        m, b = self.cfg["method"], len(labels)
        batch = torch.cat(images).contiguous(memory_format=s.memory_format)
        with s.autocast():
            logits, features = s.net(batch, contrastive=True)
        logits = logits[:b].float()
        every_label = gathered(labels)
        contrastive = []
        for view in (features[b:2 * b].float(), features[2 * b:].float()):
            stats = self.stats.observe(gathered(view.detach()), every_label)
            contrastive.append(F.cross_entropy(contrast_logits(view, stats, m["proco_temperature"]) + self.log_prior,
                                               labels))
        loss = F.cross_entropy(logits + self.log_prior, labels) + m["proco_alpha"] * (contrastive[0]
                                                                                       + contrastive[1]) / 2
        s.optimize(loss)
        return loss.detach(), logits.detach()

    def state_dict(self) -> Any:
        return self.stats.state_dict()

    def load_state_dict(self, state: Any) -> None:
        self.stats.load_state_dict(state)


_PROCO = "LeapLabTHU/ProCo ProCo_cifar/main.py argparse defaults (the CIFAR script passes none of these)"


def _even(v: int) -> bool:
    return 4 <= v <= 65536 and v % 2 == 0


PROCO_PARAMS = (
    Param("proco_alpha", 1.0, "alpha: weight of the contrastive term against the logit-adjusted CE",
          source=_PROCO + " --alpha 1.0", check=lambda v: 0 <= v <= 100, phrase="in [0, 100]",
          search=Search("linear", 0.25, 2.0)),
    Param("proco_temperature", 0.1, "T of the contrastive logits (ImageNet-LT, iNaturalist: 0.07)",
          source=_PROCO + " --temp 0.1", check=lambda v: 0 < v <= 10, phrase="in (0, 10]",
          search=Search("log", 0.05, 0.2)),
    Param("proco_dim", 128, "P: dimension of the projections and of the von Mises-Fisher estimates (ImageNet-LT, "
          "iNaturalist: 1024)", source=_PROCO + " --feat_dim 128", check=_even,
          phrase="an even number from 4 to 65536"),
    Param("proco_hidden", 512, "hidden width of the projection head (ImageNet models: 2048, the feature width)",
          source="LeapLabTHU/ProCo ProCo_cifar/models/resnet_cifar.py Model dim_hidden = 512",
          check=lambda v: 1 <= v <= 65536, phrase="from 1 to 65536"),
    Param("proco_scale", 0.0, "the classifier: 0 an nn.Linear with bias (CIFAR, use_norm False); s > 0 the cosine "
          "classifier s normalize(h) @ normalize(W) (ImageNet-LT, iNaturalist: use_norm True, s = 30)",
          source=_PROCO + " --use_norm False", check=lambda v: 0 <= v <= 1000, phrase="in [0, 1000]"),
)


PART = Part("algorithm", "proco", "ProCo: a classification view (logit-adjusted CE) and two contrastive views whose "
            "logits are the closed-form expectation over a von Mises-Fisher distribution per class, estimated from "
            "the features of the last epoch and this one", params=PROCO_PARAMS,
            source="Du et al., TPAMI 2024; LeapLabTHU/ProCo loss/proco.py ProCoLoss, loss/logitadjust.py, main.py",
            build=lambda: ProCoAlgorithm,
            traits=Traits(no_mix="ProCo trains on its three views", step_cost=3.0,
                          own_loss="ProCo's logit-adjusted CE and closed-form contrastive loss",
                          head=lambda m: "normed" if m["proco_scale"] > 0 else "linear", own_network=True))
