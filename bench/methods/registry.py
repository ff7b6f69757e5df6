"""The method catalogue and the part registry, complete: the layers above import both from here.

Adding a method: one small file in bench/methods/ declaring METHOD = Method(...) (bench.methods.spec).
Adding a loss: one file in bench/parts/losses/ declaring PART = Part("loss", ...).
Adding an algorithm (its own model, step, views): one file in bench/algorithms/ with its Params, its Part of kind
"algorithm" (PART) and its class (a stage computation: STAGES in that file). Methods, losses, algorithms and stage
computations are found by bench.registry.discover; nothing else names them. Adding a class-weights, sampler,
schedule, head or mix part: an entry in the PARTS tuple of bench/parts/weights.py, samplers.py, schedules.py,
heads.py or mix.py (a head's build returns its module; the built-in ones are in bench/models/classifiers.py).
Outside the package: the modules named in BENCH_PLUGINS (comma-separated; a package stands for each of its modules)
are imported after the built-in entries, and what each declares the same way is registered (register_declared),
with a dataset (DATASET) or a model (MODEL) as well.
"""

from types import ModuleType
from typing import Any

from bench.algorithms.registry import PARTS, STAGES
from bench.errors import BenchError
from bench.methods.spec import Method
from bench.parts.part import Part, Stage
from bench.registry import Registry, declared, discover

# The catalogue's order (`bench list methods`, the rows of every report table), by family: a method not named here
# is listed after these, in name order, so adding a method still takes only its own file.
ORDER = ("erm", "resample", "reweight", "cb", "focal", "cb_focal", "ldam", "ldam_drw", "drw", "drs", "logit_adjust",
         "balanced_softmax", "vs", "logit_adjust_drw", "vs_drw", "erm_mixup", "ldam_drw_mixup", "erm_wd",
         # sharpness-aware minimisation (algorithm sam)
         "erm_sam", "drw_sam", "ldam_drw_sam", "vs_sam",
         # multi-expert (algorithms ride, sade); contrastive (paco, bcl)
         "ride", "sade", "paco", "gpaco", "bcl",
         # the 2021-2025 baselines trained in one stage
         "lade", "gcl_stage1", "balpoe", "dirmixe", "imbsam", "focal_sam", "ccsam_stage1", "proco",
         # foundation-model track (algorithm foundation: a CLIP model, frozen except what the method tunes)
         "clip_zeroshot", "linear_probe", "full_finetune", "lift",
         # two-stage: computed from (post-hoc) or trained on (stage 2) a finished parent run (Method.parent)
         "la_posthoc", "tau_norm", "crt", "lws", "disalign", "gcl", "ccsam", "mislas", "wb", "sade_tta", "dirmixe_tta",
         "ride_ea",
         # distilled from a finished parent run (DeiT-LT: a ViT student, the parent the CNN teacher)
         "deit_lt")

METHODS = Registry("method")
for _method in sorted(discover("bench.methods", Method, ("METHOD",)),
                      key=lambda m: (ORDER.index(m.name) if m.name in ORDER else len(ORDER), m.name)):
    METHODS.register(_method.name, _method)


def register_entry(registry: Registry, name: str, entry: Any, where: str) -> None:
    """An entry a plugin declares, once: the same object met again (a package re-exporting its module's entry, a
    plugin that also registers it itself, an imported built-in) is skipped; another one under a taken name is
    refused."""
    if registry.get(name) is entry:
        return
    if name in registry:
        raise BenchError(f"{where} declares {registry.kind} {name!r}, which is already registered; rename it")
    registry.register(name, entry)


def register_declared(module: ModuleType) -> None:
    """Register what a plugin module declares, as the built-in files are found: its parts (PARTS or PART), its
    method (METHOD), its stage computations (STAGES), its datasets (DATASETS or DATASET, a
    bench.datasets.info.DatasetInfo) and its models (MODELS or MODEL, a bench.models.registry.ModelInfo)."""
    from bench.datasets.registry import DATASETS, DatasetInfo
    from bench.models.registry import MODELS, ModelInfo

    where = f"plugin module {module.__name__}"
    for part in declared(module, Part):
        if PARTS.kinds[part.kind].get(part.name) is not part:
            if part.name in PARTS.kinds[part.kind]:
                raise BenchError(f"{where} declares {part.kind} part {part.name!r}, which is already registered; "
                                 "rename it")
            PARTS.register(part)
    for method in declared(module, Method, ("METHOD",)):
        register_entry(METHODS, method.name, method, where)
    for stage in declared(module, Stage, ("STAGES",)):
        register_entry(STAGES[stage.key], stage.value, stage, where)
    for info in declared(module, DatasetInfo, ("DATASETS", "DATASET")):
        register_entry(DATASETS, info.name, info, where)
    for info in declared(module, ModelInfo, ("MODELS", "MODEL")):
        register_entry(MODELS, info.name, info, where)


def _load_plugins() -> tuple[ModuleType, ...]:
    """Import the modules named in BENCH_PLUGINS (a package: each of its modules) and register what they declare,
    each module once; the modules, for the layers above to register what they own (executors)."""
    import importlib
    import os
    import pkgutil

    modules: dict[str, ModuleType] = {}
    for name in filter(None, (n.strip() for n in os.environ.get("BENCH_PLUGINS", "").split(","))):
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise BenchError(f"BENCH_PLUGINS names {name!r}, which cannot be imported ({exc}); put it on "
                             "PYTHONPATH or remove it from BENCH_PLUGINS") from None
        modules.setdefault(module.__name__, module)
        for info in sorted(pkgutil.iter_modules(getattr(module, "__path__", [])), key=lambda i: i.name):
            if not info.name.startswith("_"):
                child = importlib.import_module(f"{name}.{info.name}")
                modules.setdefault(child.__name__, child)
    for module in modules.values():
        try:
            register_declared(module)
        except (TypeError, ValueError) as exc:  # a malformed declaration, a part declared differently
            raise BenchError(f"plugin module {module.__name__}: {exc}") from None
    return tuple(modules.values())


PLUGIN_MODULES = _load_plugins()

__all__ = ["METHODS", "PARTS", "PLUGIN_MODULES", "STAGES", "register_declared"]
