"""CPU stand-ins for what a GPU run reveals: host synchronisations and tensors on the wrong
device.

* :class:`HostSyncCounter` counts, while active, every operation that makes the host wait
  for the device: reading a value (``.item()``, ``bool(t)``, ``allclose``), an output
  whose shape depends on the data (``nonzero``, boolean-mask indexing, ``masked_select``,
  ``unique``) and copies to the host (``.cpu()``, ``.numpy()``, ``.tolist()``). On CPU
  nothing waits, but the same calls stall a CUDA stream: counting them on CPU bounds the
  stalls of a GPU step.
* :class:`MetaHostReads` lets a model run on PyTorch's ``meta`` device (tensors with
  shapes and dtypes, no data), which stands in for a GPU: an operation that mixes a meta
  tensor with one made on the CPU (a tensor created without ``device=``) fails as it
  would on a GPU. Reads of meta data, which would fail for lack of data, return zeros on
  the host and are counted instead.
"""
from collections import Counter
from contextlib import ExitStack
from typing import Dict, List

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ['HostSyncCounter', 'MetaHostReads', 'SYNC_OPS']

aten = torch.ops.aten
# operations whose result the host must wait for
SYNC_OPS = {
    aten._local_scalar_dense.default: 'item',
    aten.is_nonzero.default: 'item',
    aten.equal.default: 'equal',
    aten.allclose.default: 'allclose',
    aten.nonzero.default: 'nonzero',
    aten.masked_select.default: 'masked_select',
    aten._unique2.default: 'unique',
    aten.unique_consecutive.default: 'unique',
    aten.unique_dim.default: 'unique',
}
_HOST_METHODS = ('cpu', 'numpy', 'tolist')
_INDEX_OPS = {aten.index.Tensor, aten.index_put.default, aten.index_put_.default}


def _has_mask_index(indices) -> bool:
    return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8)
               for i in indices or ())


class _MethodCounter:
    """Counts calls of ``torch.Tensor`` methods that copy to the host."""

    def __init__(self, counts: Counter, calls: List[str]) -> None:
        self.counts, self.calls = counts, calls
        self._saved: Dict[str, object] = {}

    def __enter__(self):
        for name in _HOST_METHODS:
            original = getattr(torch.Tensor, name)
            self._saved[name] = original

            def counted(t, *args, __name=name, __original=original, **kwargs):
                if __name != 'cpu' or t.device.type != 'cpu':
                    self.counts[__name] += 1
                    self.calls.append(__name)
                return __original(t, *args, **kwargs)

            setattr(torch.Tensor, name, counted)
        return self

    def __exit__(self, *exc):
        for name, original in self._saved.items():
            setattr(torch.Tensor, name, original)
        return False


class HostSyncCounter(TorchDispatchMode):
    """Count host synchronisations while active::

        with HostSyncCounter() as syncs:
            model.train_step(data, optim_wrapper)
        assert syncs.total <= budget, syncs.counts

    Attributes:
        counts (Counter): Occurrences by kind (``item``, ``nonzero``, ``cpu``, ...).
        calls (list[str]): The kinds in call order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter = Counter()
        self.calls: List[str] = []
        self._stack = ExitStack()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __enter__(self):
        self._stack.enter_context(_MethodCounter(self.counts, self.calls))
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self._stack.close()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kind = SYNC_OPS.get(func)
        if kind is None and func in _INDEX_OPS and _has_mask_index(args[1]):
            kind = 'nonzero'  # boolean-mask indexing: the result's size is the mask's count
        if kind is not None:
            self.counts[kind] += 1
            self.calls.append(kind)
        return func(*args, **(kwargs or {}))


class MetaHostReads(TorchDispatchMode):
    """Run a model on the ``meta`` device: host reads of meta tensors give zeros (counted
    in :attr:`reads`); everything else runs as it is, so a CPU tensor meeting a meta one
    raises PyTorch's device-mismatch error, as a CPU tensor meeting a CUDA one would.

    Attributes:
        reads (Counter): Host reads of meta data by kind (``item``, ``cpu``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is aten._local_scalar_dense.default and args[0].device.type == 'meta':
            self.reads['item'] += 1
            return False if args[0].dtype == torch.bool else 0
        if func is aten._to_copy.default and args[0].device.type == 'meta' and \
                torch.device(kwargs.get('device', 'meta')).type == 'cpu':
            self.reads['cpu'] += 1
            return torch.zeros(args[0].shape, dtype=kwargs.get('dtype') or args[0].dtype)
        return func(*args, **kwargs)
