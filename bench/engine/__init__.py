"""One run, from its config to its result: the trainer (bench.engine.trainer.Trainer), which calls the run's
algorithm (bench.algorithms: chosen by choose.py) through the protocol, and what surrounds the loop: the standard
hooks (hooks: progress, loggers, preemption, fault points), the resume state (state), the device, threads and
precision (runtime, distributed, preempt) and result.json (result)."""
