"""Where runs execute: `inline` (this process, default), `local` (N subprocesses), `slurm` (submitit).

Executors are chosen explicitly with --executor, never detected.
"""

EXECUTORS = ("inline", "local", "slurm")
