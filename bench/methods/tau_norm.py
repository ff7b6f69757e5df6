from bench.methods.spec import HEAD_INIT, Method

# facebookresearch/classifier-balancing tau_norm.py:110: tau over np.linspace(0, 2, 21) (bench/methods/transcripts/
# decoupling.yaml)

METHOD = Method(
    "tau_norm", "tau-normalised classifier of a finished erm run: w_c / ||w_c||^tau, bias dropped (Kang et al. "
    "2020); tau in 0, 0.1, ..., 2 chosen on the validation split (needs eval.selection=best_val)",
    "", parent="erm", stage=dict(posthoc="tau_norm", taus=[round(0.1 * i, 1) for i in range(21)]),
    deviations=(f"stage 1: {HEAD_INIT}", "tau_norm normalises the parent's last classifier; the official tau_norm.py "
                "reads stage 1's best-on-val checkpoint (no setting)"))
