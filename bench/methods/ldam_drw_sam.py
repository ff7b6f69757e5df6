from bench.methods.spec import BEST_TEST, Method

# val-iisc/Saddle-LongTail run.sh: LDAM+DRW+SAM, rho 0.8 on CIFAR-10-LT and CIFAR-100-LT (lines 9, 19)
METHOD = Method(
    "ldam_drw_sam", "LDAM-DRW with SAM (Rangwani et al. 2022), rho 0.8 (official CIFAR-10/100-LT)", "",
    dict(loss="ldam", weights="cb", schedule="deferred", head="auto", algorithm="sam", sam_rho=0.8),
    recipe_source="val-iisc/Saddle-LongTail run.sh", deviations=(BEST_TEST,))
