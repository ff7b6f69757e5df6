"""The training engine's parts: the typed resume state, the hook protocol, the algorithm protocol and the
result writer. bench.engine.trainer.Trainer runs them; a method owns its model, step, views and prediction through
an Algorithm (bench.engine.algorithm), and everything around the loop (progress, loggers, preemption, fault
points, stage-2 rules) is a Hook (bench.engine.hooks)."""
