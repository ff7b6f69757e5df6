from bench.methods.spec import BEST_TEST, Method

# val-iisc/Saddle-LongTail run.sh: CE+SAM, rho 0.1 on CIFAR-10-LT (line 7), 0.2 on CIFAR-100-LT (line 17)
METHOD = Method(
    "erm_sam", "cross-entropy with SAM (Rangwani et al. 2022), rho 0.1 (official CIFAR-10-LT; CIFAR-100-LT: 0.2)",
    "", dict(loss="ce", algorithm="sam", sam_rho=0.1),
    recipes={"cifar100_lt": {"method": dict(sam_rho=0.2)}},
    recipe_source="val-iisc/Saddle-LongTail run.sh",
    deviations=(BEST_TEST,))
