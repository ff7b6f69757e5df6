"""Launching and executing planned runs: skip what finished and check the rest (launch), run one under its lock
(runner, worker), where runs execute (executors), what is running (status) and `bench tune` (tuning)."""
