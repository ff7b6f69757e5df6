"""Algorithm parts: how a method trains (bench/engine/algorithm.py has the protocol).

`method.algorithm` chooses one; its build() returns the Algorithm class (imported only when a run trains,
so the registries stay free of torch). `standard` is the step of the method's loss, weights, sampler, schedule,
head and mix parts; the others say in their `traits` (bench.methods.parts.Traits: own loss, own head, own network,
no mixing, no fp16, experts, step cost, ...) what they do otherwise, read by the plan-time checks, bench/plan/usage.py,
the cost and the evaluation.
"""

from __future__ import annotations

from bench.methods.losses.ldam import S
from bench.methods.parts import Param, Part, Traits
from bench.methods.search import Search


def late(module, name):
    """build() for an algorithm part: its class, imported when a run trains (late binding, as entry points do:
    the registries stay free of torch and of the engine, which itself uses the registries)."""

    def build():
        import importlib

        return getattr(importlib.import_module(module), name)

    return build


STANDARD = Part("algorithm", "standard", "one augmented view per image, the loss of the method's parts (mixed "
                "over two labels with a mix part), one optimizer step per batch",
                build=late("bench.engine.algorithm", "StandardAlgorithm"))

def _schedule_ok(value):
    """[[epoch, rho], ...]: the first at epoch 0, epochs increasing integers, rho positive."""
    if not value or not all(isinstance(step, list) and len(step) == 2 for step in value):
        return False
    epochs, rhos = [s[0] for s in value], [s[1] for s in value]
    return (all(type(e) is int for e in epochs) and epochs[0] == 0 and epochs == sorted(set(epochs))
            and all(type(r) in (int, float) and 0 < r <= 10 for r in rhos))


SAM_RHO = Param("sam_rho", 0.05, "SAM's radius: the weights move by rho g / ||g|| before the second pass",
                source="val-iisc/Saddle-LongTail sam.py (rho=0.05, davda54/sam's default); the methods set the "
                       "official run.sh values", check=lambda v: 0 < v <= 10, phrase="positive (and at most 10)",
                search=Search("log", 0.01, 0.8))
SAM_RHO_SCHEDULE = Param("sam_rho_schedule", None, "rho per epoch, [[0-based epoch, rho], ...] from each epoch "
                         "on (scales with --epochs); null: sam_rho throughout",
                         source="val-iisc/Saddle-LongTail imnet_train_sam.py / inat_train_sam.py adjust_rho (step)",
                         types=(list, type(None)), check=_schedule_ok,
                         phrase="a list of [epoch, rho] pairs, the first at epoch 0, epochs increasing, "
                                "each rho in (0, 10]")
SAM = Part("algorithm", "sam", "sharpness-aware minimisation: the loss's gradient at w + rho g/||g|| (same batch, "
           "both passes in train mode) steps the weights at w", params=(SAM_RHO, SAM_RHO_SCHEDULE),
           source="Rangwani et al., NeurIPS 2022; val-iisc/Saddle-LongTail sam.py, cifar_train_sam.py",
           build=late("bench.engine.sam", "SAMAlgorithm"),
           traits=Traits(step_cost=2.0, no_fp16="SAM: two backward passes a step"))

EXPERTS = Param("experts", 3, "number of experts: branches with their own later stages and classifier on a shared "
                "trunk; the prediction is the mean of their outputs",
                source="frank-xwang/RIDE-LongTailRecognition and Vanint/SADE-AgnosticLT configs (num_experts 3)",
                check=lambda v: 1 <= v <= 16, phrase="between 1 and 16")
REDUCE_EXPERTS = Param("reduce_experts", True, "expert branches at reduced widths (CIFAR ResNet-32: 24/48 channels "
                       "instead of 32/64; ImageNet ResNets: 192/384 planes instead of 256/512)",
                       source="RIDE and SADE configs (reduce_dimension true)")
RIDE_DIVERSITY = Param("ride_diversity", -0.45, "lambda: weight of each expert's KL(mean output || expert output) "
                       "at temperature T (negative: the experts are pushed apart)",
                       source="RIDE configs/config_imbalance_cifar100_ride.json additional_diversity_factor "
                              "(ImageNet-LT, iNaturalist: -0.2)", check=lambda v: -10 <= v <= 10,
                       phrase="between -10 and 10", search=Search("linear", -1.0, 0.0))
RIDE_REWEIGHT = Param("ride_reweight_factor", 0.05, "gamma of the distribution-aware temperature T_c, proportional "
                      "to gamma C p_c + 1 - gamma, used from the DRW epoch on (before it T = 1)",
                      source="RIDE model/loss.py RIDELoss reweight_factor (ImageNet-LT 0.02, iNaturalist 0.015)",
                      check=lambda v: 0 <= v <= 1, phrase="in [0, 1]", search=Search("linear", 0.0, 0.1))
SADE_TAU = Param("sade_tau", 2.0, "lambda of the third (inverse-softmax) expert: CE(s z + log pi - lambda log "
                 "pi_inverse, y)", source="SADE configs tau (CIFAR-100-LT, ImageNet-LT: 2; iNaturalist, "
                                          "Places-LT: 1)", check=lambda v: 0 <= v <= 10, phrase="in [0, 10]",
                 search=Search("linear", 0.5, 3.0))
RIDE = Part("algorithm", "ride", "RIDE: K experts on a shared trunk, each trained with the method's loss (LDAM-DRW) "
            "plus a distribution-aware diversity term; the prediction is their mean",
            params=(EXPERTS, REDUCE_EXPERTS, RIDE_DIVERSITY, RIDE_REWEIGHT),
            source="Wang et al., ICLR 2021; frank-xwang/RIDE-LongTailRecognition model/loss.py RIDELoss, "
                   "model/ldam_drw_resnets/ride_resnet_cifar.py",
            build=late("bench.engine.ride", "RIDEAlgorithm"),
            traits=Traits(experts=True, no_mix="RIDE trains its experts on plain batches", step_cost=1.5,
                          reads_switch=True))  # the DRW epoch turns the distribution-aware temperature on
SADE = Part("algorithm", "sade", "SADE: three experts on a shared trunk, trained with softmax, balanced-softmax and "
            "inverse-softmax losses (each skilled for one test distribution); the prediction is their mean",
            params=(EXPERTS, REDUCE_EXPERTS, SADE_TAU, S),
            source="Zhang et al., NeurIPS 2022; Vanint/SADE-AgnosticLT model/loss.py DiverseExpertLoss, "
                   "model/ldam_drw_resnets/expert_resnet_cifar.py",
            build=late("bench.engine.sade", "SADEAlgorithm"),
            probability_scale="s",
            traits=Traits(experts=True, fixed_experts=3, no_mix="SADE trains its experts on plain batches",
                          step_cost=1.5, own_loss="its three experts' softmax, balanced and inverse softmax losses"))

_EA = "frank-xwang/RIDE-LongTailRecognition configs/*_ride_ea.json"
RIDE_ROUTER = Part("algorithm", "ride_router", "RIDE's expert-assignment router on a finished ride run's frozen "
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
                   build=late("bench.engine.ride_router", "RouterAlgorithm"),
                   probability_scale="s",
                   traits=Traits(experts=True, no_mix="the router trains on plain batches",
                                 own_loss="the routers' binary cross-entropy"))

_PACO = "dvlab-research/Parametric-Contrastive-Learning PaCo/LT/sh/CIFAR100_train_imb0.01.sh"
PACO_PARAMS = (
    Param("paco_alpha", 0.01, "alpha: weight of each same-class sample against the class centre's beta",
          source=_PACO, check=lambda v: 0 <= v <= 100, phrase="in [0, 100]", search=Search("log", 0.001, 0.1)),
    Param("paco_beta", 1.0, "beta: weight of the class centre (the classifier's logit) as a positive",
          source=_PACO, check=lambda v: 0 < v <= 100, phrase="in (0, 100]"),
    Param("paco_gamma", 1.0, "gamma: weight of the samples in the softmax denominator",
          source=_PACO, check=lambda v: 0 <= v <= 100, phrase="in [0, 100]"),
    Param("paco_temperature", 0.05, "T of the samples' logits q . k / T (ImageNet-LT: 0.2; ResNeXt-50: 0.07)",
          source=_PACO, check=lambda v: 0 < v <= 10, phrase="in (0, 10]", search=Search("log", 0.03, 0.3)),
    Param("paco_dim", 32, "dimension of the projection (ImageNet-LT: 128)", source=_PACO,
          check=lambda v: 1 <= v <= 65536, phrase="from 1 to 65536"),
    Param("paco_queue", 1024, "K: keys kept in the queue (ImageNet-LT: 8192)", source=_PACO,
          check=lambda v: 1 <= v <= 1 << 24, phrase="from 1 to 16777216"),
    Param("paco_momentum", 0.999, "m of the key encoder's moving average",
          source="PaCo/LT/paco_cifar.py (--moco-m 0.999)", check=lambda v: 0 <= v < 1, phrase="in [0, 1)"),
    Param("paco_key_view", "simclr_blur", "the key view (bench.images.views): simclr_blur (the CIFAR code's) or "
          "moco_sim (the ImageNet-LT / iNaturalist code's)", source="PaCo/LT/paco_cifar.py, paco_lt.py",
          choices=("simclr_blur", "moco_sim")),
)
PACO = Part("algorithm", "paco", "PaCo: a query view through the network and a classifier whose weights are "
            "class centres, a key view through a momentum encoder, a queue of keys; one contrastive softmax over "
            "the logit-adjusted centres and the samples", params=PACO_PARAMS,
            source="Cui et al., ICCV 2021; dvlab-research/Parametric-Contrastive-Learning PaCo/LT/losses.py "
                   "PaCoLoss, moco/builder.py, paco_cifar.py",
            build=late("bench.engine.paco", "PaCoAlgorithm"),
            traits=Traits(no_mix="PaCo trains on its two views", step_cost=1.4,
                          own_loss="PaCo's contrastive loss over logit-adjusted centres",
                          head="linear", own_network=True))

_BCL_CIFAR = ("the CIFAR setting the paper is cited with (no CIFAR code in FlamieZhu/Balanced-Contrastive-Learning; "
              "sumyeongahn/CUDA_LTR, YuMJie/ConCutMix)")
BCL_PARAMS = (
    Param("bcl_alpha", 2.0, "alpha: weight of the logit-adjusted cross-entropy on the classification view "
          "(ImageNet-LT, iNaturalist: 1.0)", source=_BCL_CIFAR, check=lambda v: 0 <= v <= 100, phrase="in [0, 100]",
          search=Search("linear", 0.5, 3.0)),
    Param("bcl_beta", 0.6, "beta: weight of the balanced contrastive loss (ImageNet-LT, iNaturalist: 0.35)",
          source=_BCL_CIFAR, check=lambda v: 0 <= v <= 100, phrase="in [0, 100]", search=Search("linear", 0.2, 1.0)),
    Param("bcl_temperature", 0.1, "T of the contrastive logits (ImageNet-LT, iNaturalist: 0.07)", source=_BCL_CIFAR,
          check=lambda v: 0 < v <= 10, phrase="in (0, 10]", search=Search("log", 0.05, 0.2)),
    Param("bcl_hidden", 512, "hidden width of the projection head and head_fc (ImageNet models: 2048)",
          source="FlamieZhu/Balanced-Contrastive-Learning issue 7 (CIFAR ResNet-32: 64 -> 512 -> 128)",
          check=lambda v: 1 <= v <= 65536, phrase="from 1 to 65536"),
    Param("bcl_dim", 128, "dimension of the contrastive features and prototypes (ImageNet models: 1024)",
          source="FlamieZhu/Balanced-Contrastive-Learning issue 7", check=lambda v: 1 <= v <= 65536,
          phrase="from 1 to 65536"),
)
BCL = Part("algorithm", "bcl", "BCL: a classification view (logit-adjusted CE on a cosine classifier) and two "
           "contrastive views with a class-averaged, class-complemented supervised contrastive loss whose "
           "prototypes come from the classifier's weights", params=(*BCL_PARAMS, S),
           source="Zhu et al., CVPR 2022; FlamieZhu/Balanced-Contrastive-Learning loss/contrastive.py BalSCL, "
                  "loss/logitadjust.py, models/resnext.py BCLModel",
           build=late("bench.engine.bcl", "BCLAlgorithm"),
           probability_scale="s",
           traits=Traits(no_mix="BCL trains on its three views", step_cost=3.0,
                         own_loss="BCL's logit-adjusted CE and balanced contrastive loss",
                         head="normed", own_network=True))

PARTS = (STANDARD, SAM, RIDE, SADE, RIDE_ROUTER, PACO, BCL)
