"""One run, from its config to its result: the trainer (bench.engine.trainer.Trainer) and what it runs. A method
owns its model, step, views and prediction through an Algorithm (algorithm; its step receives a Step: step), the
multi-expert, contrastive, SAM and foundation-model algorithms, stage 2 (stage2, ride_router) and the methods computed
from a parent's files (posthoc, sade_tta); everything around the loop (progress, loggers, preemption, fault points,
stage-2 rules) is a Hook (hooks); the resume state (state), the device, threads and precision (runtime,
distributed, preempt) and result.json (result)."""
