"""Planning: from what the user typed to the resolved, checked config of every run, before anything is written.
The schema of keys (schema), config resolution and checks (config, experiment, usage), sweeps and inputs (sweep,
inputs), planned runs with their folders and ids (runs), the dry-run cost (cost) and the external files a run
reads (external)."""
