"""``torch.compile`` for mmfss's models: the compiler settings and the graph-break count.

``tools/train.py --compile`` sets mmengine's ``compile`` config (the runner compiles the
model's ``train_step``: data preprocessing, forward and loss; the backward and the
optimizer step run as PyTorch runs them) after :func:`configure_compile`. What stays out
of the compiled graphs, by design, is marked with ``torch.compiler.disable`` where it
happens: CLIP's Grad-CAM (its own ``torch.autograd.grad``) and the box refinement on the
host (OpenCV) of :class:`~mmfss.models.CLIPPriorNeck`, its tokenizer; the C++ OT passes
give way to their torch path while compiling (:mod:`mmfss.ot.kernel_passes`). The graph
breaks of each family are counted by :func:`graph_breaks` and held to a budget in
``tests/test_engine/test_compile.py``.
"""
import warnings
from typing import Callable, Dict, List

__all__ = ['configure_compile', 'graph_breaks']


def configure_compile() -> None:
    """Compiler settings mmfss's models need (idempotent, process-wide).

    ``warnings.warn`` may be moved after a graph instead of breaking it (mmseg's ``resize``
    warns about ``align_corners`` sizes inside the forward of its heads and PPM modules).
    """
    import torch._dynamo.config as dynamo_config
    dynamo_config.reorderable_logging_functions.add(warnings.warn)


def graph_breaks(fn: Callable, *args, **kwargs) -> Dict[str, object]:
    """The graphs and graph breaks of ``fn(*args, **kwargs)`` under ``torch.compile``
    (``torch._dynamo.explain``: traced, not compiled), after :func:`configure_compile`.

    Returns:
        dict: ``graphs`` (int), ``breaks`` (int) and ``reasons`` (list[str]: each break's
        reason and the user code line where it happened).
    """
    import torch._dynamo as dynamo
    configure_compile()
    dynamo.reset()
    explained = dynamo.explain(fn)(*args, **kwargs)
    reasons: List[str] = []
    for item in explained.break_reasons:
        where = item.user_stack[-1] if item.user_stack else None
        place = f'{where.filename}:{where.lineno} ({where.name})' if where else '?'
        reasons.append(f'{place}: {item.reason.splitlines()[0]}')
    dynamo.reset()
    return dict(graphs=explained.graph_count, breaks=explained.graph_break_count,
                reasons=reasons)
