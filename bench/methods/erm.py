from bench.methods.spec import Method

METHOD = Method(
    "erm", "empirical risk minimisation: cross-entropy, instance sampling, no re-balancing",
    "ERM", dict(loss="ce"))
