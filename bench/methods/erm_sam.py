from bench.methods.spec import Method

# val-iisc/Saddle-LongTail run.sh: CE+SAM, rho 0.1 on CIFAR-10-LT (line 7); CIFAR-100-LT uses 0.2 (line 17):
# --set method.sam_rho=0.2
METHOD = Method(
    "erm_sam", "cross-entropy with SAM (Rangwani et al. 2022), rho 0.1 (official CIFAR-10-LT; CIFAR-100-LT: 0.2)",
    "", dict(loss="ce", algorithm="sam", sam_rho=0.1))
