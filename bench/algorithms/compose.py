"""What a method does to training, built from its parts: the loss module, the epoch order, the
epoch from which re-balancing is on, and batch mixing. The trainer talks to this object only."""

from __future__ import annotations

from bench.algorithms.registry import PARTS


class Composition:
    def __init__(self, cfg, class_counts, train_labels, device):
        from bench.parts.loss_module import build_loss  # torch: this module is imported by the registry

        m = cfg["method"]
        self.method_cfg = m
        weights = PARTS.get("weights", m["weights"]).build(class_counts, m)
        self.loss = build_loss(m, class_counts, weights).to(device)
        self.sampler = PARTS.get("sampler", m["sampler"]).build(train_labels, class_counts, m)
        self.switch = PARTS.get("schedule", m["schedule"]).build(cfg)  # first epoch with re-balancing on
        self.mix = PARTS.get("mix", m["mix"])
        self.mixer = None

    def probability_scale(self):
        """Factor from the model's outputs to the logits the loss trains (LDAM: s), for ECE and NLL."""
        return PARTS.probability_scale(self.method_cfg)

    def start_epoch(self, epoch, generator):
        """(order of the epoch's images, re-balancing on?). Switches the loss's class weights and the
        sampler through their hooks; a mixing method seeds its mixer from the epoch's generator."""
        rebalancing = epoch >= self.switch
        self.loss.set_rebalancing(rebalancing)
        order = self.sampler.epoch_order(generator, rebalancing)
        self.mixer = self.mix.build(self.method_cfg, generator)
        return order, rebalancing

    def mixer_state(self):
        """The mixer's random state inside an epoch (a mid-epoch checkpoint), as text; None without mixing."""
        import json

        return None if self.mixer is None else json.dumps(self.mixer.rng.bit_generator.state)

    def restore_mixer(self, text):
        import json

        if text is not None and self.mixer is not None:
            self.mixer.rng.bit_generator.state = json.loads(text)

    def mix_batch(self, images, labels):
        """(images, targets) of a batch; targets are (labels, partner labels or None, lambda)."""
        if self.mixer is None:
            return images, (labels, None, 1.0)
        images, partner, lam = self.mixer(images, labels)
        return images, (labels, partner, lam)

    def loss_value(self, logits, targets):
        labels, partner, lam = targets
        if partner is None:
            return self.loss(logits, labels)
        return lam * self.loss(logits, labels) + (1.0 - lam) * self.loss(logits, partner)
