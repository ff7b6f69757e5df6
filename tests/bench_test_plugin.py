"""A test-only method on the engine's algorithm protocol: two augmented views per image, its own training
step (the method's loss on each view plus a consistency term between them) and its own state in every
checkpoint (the step count, which ramps the consistency weight up). Nothing in bench knows it: tests/conftest.py
loads it in every test process through BENCH_PLUGINS, so the registry-wide tests cover it too. It declares its part
and its method as bench's own files do (PART, METHOD); the plugin loader registers them."""

from bench.methods.spec import Method
from bench.parts.part import Param, Part

CONSISTENCY = Param("consistency", 0.5, "weight of the squared difference of the two views' softmax outputs, "
                    "ramped up linearly over the first 10 steps", check=lambda v: v >= 0, phrase="non-negative")
RAMP_STEPS = 10


def _two_views():
    from bench.algorithms.standard import StandardAlgorithm

    class TwoViews(StandardAlgorithm):
        views = 2

        def setup(self):
            super().setup()
            self.steps = 0

        def train_step(self, s, images, labels):
            first, second = (view.contiguous(memory_format=s.memory_format) for view in images)
            with s.autocast():
                a, b = s.net(first).float(), s.net(second).float()
            weight = self.cfg["method"]["consistency"] * min(1.0, self.steps / RAMP_STEPS)
            targets = (labels, None, 1.0)
            loss = (0.5 * (self.method.loss_value(a, targets) + self.method.loss_value(b, targets))
                    + weight * (a.softmax(1) - b.softmax(1)).pow(2).sum(1).mean())
            s.optimize(loss)
            self.steps += 1
            return loss.detach(), a.detach()

        def state_dict(self):
            return {"steps": self.steps}

        def load_state_dict(self, state):
            self.steps = int(state["steps"])

    return TwoViews


PART = Part("algorithm", "two_views_test", "test only: two views, loss on each plus a consistency term, its step "
            "count checkpointed", params=(CONSISTENCY,), build=_two_views)
METHOD = Method("two_views_test", "test only: an algorithm with two views and its own step and state "
                "(tests/bench_test_plugin.py)", "", dict(algorithm="two_views_test"))
