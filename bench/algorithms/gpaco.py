"""GPaCo, generalized parametric contrastive learning (Cui et al., TPAMI 2023), as dvlab-research/
Parametric-Contrastive-Learning GPaCo/LT/{moco/builder.py, losses.py, paco_lt.py} (fe56535) does it.

PaCo (bench.algorithms.paco) without the momentum encoder: both views go through the same network (one forward
each, so BN normalises each view on its own) and both are anchors. For the 2B anchors [q; k] over the contrast set
[q; k; queue] (each anchor without itself), with the logit-adjusted class logits of its own view, the loss is PaCo's
(bench.algorithms.paco.paco_loss) averaged over the 2B anchors; the batch's keys k then enter the queue. Label
smoothing is 0 in every long-tailed script (the `smooth` argument is used on full ImageNet only). The prediction is
the classifier's plain logits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from bench.algorithms.paco import PACO_PARAMS, PaCoAlgorithm, paco_loss
from bench.algorithms.protocol import gathered
from bench.algorithms.step import Step
from bench.models.registry import MODELS
from bench.parts.part import Part, Traits

if TYPE_CHECKING:
    import torch
    from torch import nn


class GPaCoAlgorithm(PaCoAlgorithm):
    def build_model(self) -> tuple[nn.Module, Iterable]:
        from bench.models.paconet import GPaCoNet

        m = self.cfg["method"]
        backbone = MODELS.get_or_fail(self.cfg["model"]["name"]).build(self.data.in_channels)
        model = GPaCoNet(backbone, self.data.num_classes, m["paco_dim"], m["paco_queue"])
        return model, model.parameters()

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        first, second = (view.contiguous(memory_format=s.memory_format) for view in images)
        with s.autocast():
            logits, q, k = s.net(first, keys_from=second)
        m, model = self.cfg["method"], cast(Any, s.model)
        anchors, both = torch.cat([q.float(), k.float()]), torch.cat([labels, labels])
        contrast = torch.cat([anchors, model.queue.clone()])
        contrast_labels = torch.cat([both, model.queue_labels.clone()])
        loss = paco_loss(anchors, contrast, contrast_labels, logits.float(), both, self.log_prior, m["paco_alpha"],
                         m["paco_beta"], m["paco_gamma"], m["paco_temperature"])
        s.optimize(loss)
        model.enqueue(gathered(k.detach().float()), gathered(labels))  # every process's keys (builder.py:86-99)
        return loss.detach(), logits[:len(labels)].detach()


PART = Part("algorithm", "gpaco", "GPaCo: PaCo without the momentum encoder; both views through the network, both "
            "anchors of PaCo's contrastive softmax over the logit-adjusted centres, the samples and a queue of keys",
            params=tuple(p for p in PACO_PARAMS if p.key != "paco_momentum"),
            source="Cui et al., TPAMI 2023; dvlab-research/Parametric-Contrastive-Learning GPaCo/LT/losses.py "
                   "PaCoLoss, moco/builder.py, paco_lt.py",
            build=lambda: GPaCoAlgorithm,
            traits=Traits(no_mix="GPaCo trains on its two views", step_cost=2.0,
                          own_loss="GPaCo's contrastive loss over logit-adjusted centres",
                          head="linear", own_network=True))
