"""Loss parts, one file each: a torch-free declaration (`PART`) with its hyper-parameters, a
`setup(class_counts, **hyper-parameters)` computing per-class constants with NumPy, and a
`forward(logits, target, weight, **constants)` formula. bench.parts.loss_module wraps them in
nn.Modules (class weights, the re-balancing hook). A new file here is registered by bench.parts.registry
(bench.registry.discover): nothing else names it.
"""
