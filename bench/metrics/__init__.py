"""What a run's numbers are: the metrics computed from predictions (evaluate), the shifted test priors (priors) and
a finished run's result as the later commands read it back (runresult)."""
