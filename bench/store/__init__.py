"""The run folder and the files bench writes and reads: names and locks (rundir), atomic writes (atomic), result
and prediction files (results), checkpoints (checkpoint), the user's text and YAML files (textfiles, yamltext) and
the fault points the crash tests kill at (faults). Nothing here knows about methods or training."""
