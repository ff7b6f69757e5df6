from bench.methods.spec import Method

METHOD = Method(
    "tau_norm", "tau-normalised classifier of a finished erm run: w_c / ||w_c||^tau, bias dropped (Kang et al. "
    "2020); tau in 0, 0.1, ..., 1 chosen on the validation split (needs eval.selection=best_val)",
    "", parent="erm", stage=dict(posthoc="tau_norm"))
