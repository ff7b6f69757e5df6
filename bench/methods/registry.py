"""Method registry. Adding a method: one small file with METHOD = Method(...), one line here."""

from bench.methods import cb, cb_focal, drs, drw, erm, focal, ldam, ldam_drw, resample, reweight
from bench.registry import Registry

METHODS = Registry("method")
for _module in (erm, resample, reweight, cb, focal, cb_focal, ldam, ldam_drw, drw, drs):
    METHODS.register(_module.METHOD.name, _module.METHOD)
