from bench.methods.spec import BEST_TEST, Method

# val-iisc/Saddle-LongTail wires the VS loss (losses.py) into cifar_train_sam.py but run.sh has no VS command, so
# the official rho is unknown: bench uses LDAM-DRW+SAM's 0.8 (its choice; --set method.sam_rho=... to change)
METHOD = Method(
    "vs_sam", "VS loss (gamma 0.3, tau 1) with SAM, rho 0.8 (bench's choice: the official code gives no VS rho)",
    "", dict(loss="vs", algorithm="sam", sam_rho=0.8),
    deviations=("rho 0.8 is bench's choice: the official run.sh has no VS command (method.sam_rho)", BEST_TEST))
