"""The evaluation protocols of the reference codebases, stated in one place.

Few-shot segmentation numbers are only comparable under the same protocol: the same image
list, the same rule for drawing the query class and the supports, the same number of
episodes and seeds, the same input geometry and the same frame in which the prediction is
scored. mmfss implements three, named after the code that defines them:

* ``'pfenet'``: PFENet (dvlab-research/PFENet) ``util/dataset.py`` (``make_dataset``,
  ``SemData.__getitem__``), ``util/transform.py`` (``Resize``) and ``test.py``
  (``validate`` with ``resized_val: True``, ``ori_resize: True``, ``manual_seed: 321``,
  ``workers: 0``). CMNet's protocol.
* ``'bam'``: BAM (chunbolang/BAM) ``test.py``: PFENet's sampling and geometry, 1000
  episodes per seed, the five seeds ``np.random.randint(0, 1000, 5)`` after
  ``np.random.seed(123)``, reported as their mean. DOTGraph's (and PI-CLIP's) protocol.
* ``'hsnet'``: HSNet (juhongm999/hsnet) ``data/pascal.py``, ``data/coco.py``,
  ``data/fss.py``, ``test.py`` (``utils.fix_randseed(0)``, ``nworker=0``) and
  ``common/evaluation.py``: its own split files, supports drawn by numpy, 400x400 inputs.

This module holds the samplers (pure functions of the lists and a seed) and the geometry
(pure functions of array shapes); the datasets call the samplers, the
:class:`~mmfss.datasets.transforms.ProtocolTestResize` transform calls the geometry, and the
segmentor scores in the frame the transform records (``score_shape``).
"""
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    'PROTOCOLS', 'Protocol', 'get_protocol', 'dataloader_base_seeds', 'pfenet_episodes', 'hsnet_pair_episodes',
    'hsnet_class_uniform_episodes', 'hsnet_fss_episodes', 'pfenet_resized_hw',
    'read_episodes_file', 'write_episodes_file'
]

PROTOCOLS = ('pfenet', 'bam', 'hsnet')

# (query name, support names, class id)
Episode = Tuple[str, List[str], int]


@dataclass(frozen=True)
class Protocol:
    """What a protocol fixes besides its sampler.

    Attributes:
        name (str): ``'pfenet'``, ``'bam'`` or ``'hsnet'``.
        seeds (tuple[int]): Episode seeds; the first is the default ``seed`` of a dataset,
            all of them are used by ``tools/test.py --seeds``.
        num_episodes (dict[str, int | None]): Episodes per seed of each benchmark
            (``'pascal'``, ``'coco'``, ``'fss'``; ``'shapes'``: the embedded Shapes-5i, read
            as PASCAL-5i in miniature); None: every listed query once.
        test_size (dict[str, int]): Input size of each benchmark (Shapes-5i's 96x96 images:
            96 for PFENet/BAM, whose long side is about PASCAL's 500 at 473; 80 for HSNet,
            400/473 of that).
        geometry (str): ``'pad_long_side'`` (keep ratio, long side = size, top-left, scored
            in the original label padded to a square) or ``'stretch'`` (size x size, scored
            there, or at the original size with ``use_original_imgsize``).
        max_passes (int, optional): Passes over the query list after which the reference
            stops drawing, whatever its episode count (PFENet: 20); None: no limit.
        workers (dict[str, int]): DataLoader workers of the reference's test loader per
            benchmark: the episodes are drawn in them (see :func:`pfenet_episodes`).
        ignore_as_background (tuple[str]): Benchmarks whose ignore label (255) the reference
            reads as background (HSNet ``data/coco.py``: every value but the class becomes 0).
    """
    name: str
    seeds: Tuple[int, ...]
    num_episodes: Dict[str, Optional[int]]
    test_size: Dict[str, int]
    geometry: str
    max_passes: Optional[int] = None
    workers: Dict[str, int] = field(default_factory=dict)
    ignore_as_background: Tuple[str, ...] = ()


_PROTOCOLS = {
    # PFENet test.py: test_num 5000 (PASCAL) / 20000 (COCO), and its loop scores one more
    # (it breaks when (iter_num - 1) * batch_size >= test_num) within `for e in range(20)`
    # passes over the list; manual_seed 321 in every config; val_size 473 / 641 (COCO);
    # workers 8 (config/pascal/*.yaml) and 16 (config/coco/*.yaml).
    'pfenet': Protocol('pfenet', (321, ), dict(pascal=5001, coco=20001, fss=None, shapes=5001),
                       dict(pascal=473, coco=641, fss=473, shapes=96), 'pad_long_side',
                       max_passes=20,
                       workers=dict(pascal=8, coco=16, fss=0)),
    # BAM test.py: val_manual_seed 123, val_num 5 -> seeds [510, 365, 382, 322, 988];
    # test_num 1000 for both benchmarks; workers 8 in its PASCAL and COCO configs.
    'bam': Protocol('bam', (510, 365, 382, 322, 988),
                    dict(pascal=1000, coco=1000, fss=None, shapes=1000),
                    dict(pascal=473, coco=641, fss=473, shapes=96), 'pad_long_side',
                    workers=dict(pascal=8, coco=8, fss=0)),
    # HSNet test.py: fix_randseed(0); __len__ 1000 for PASCAL/COCO, every image for FSS-1000;
    # img_size 400 (its README's commands).
    # data/coco.py read_mask + load_frame: mask != class -> 0, so COCO's 255 is background
    # (data/pascal.py keeps it as ignore, extract_ignore_idx).
    'hsnet': Protocol('hsnet', (0, ), dict(pascal=1000, coco=1000, fss=None, shapes=1000),
                      dict(pascal=400, coco=400, fss=400, shapes=80), 'stretch',
                      ignore_as_background=('coco', )),
}


def get_protocol(name: str) -> Protocol:
    """The :class:`Protocol` called ``name`` (one of :data:`PROTOCOLS`)."""
    if name not in _PROTOCOLS:
        raise ValueError(f'protocol must be one of {PROTOCOLS}, got {name!r}')
    return _PROTOCOLS[name]


# ---------------------------------------------------------------------------- samplers
def dataloader_base_seeds(seed: int, passes: int) -> List[int]:
    """The ``base_seed`` of each of ``passes`` iterators of a ``torch.utils.data.DataLoader``
    created one after the other after ``torch.manual_seed(seed)``.

    Each ``iter(loader)`` draws one int64 from torch's default CPU generator
    (``torch.empty((), dtype=torch.int64).random_()``, torch's ``_BaseDataLoaderIter``);
    worker ``w`` of that iterator seeds Python's ``random`` with ``base_seed + w``. PFENet's
    and BAM's test loops seed torch right before their passes and draw nothing else from the
    CPU generator in between (the model runs in eval mode on the GPU). The draw is torch's
    own, made here on a generator of its own (equal to the default one after
    ``torch.manual_seed``), so the stream holds for the torch versions whose DataLoader
    draws its base seed this way (checked: 2.14.1, see tests/test_datasets/test_protocols.py).
    """
    import torch
    generator = torch.Generator().manual_seed(int(seed))
    return [int(torch.empty((), dtype=torch.int64).random_(generator=generator).item())
            for _ in range(passes)]


def pfenet_episodes(queries: Sequence[Tuple[str, Sequence[int]]],
                    pools: Dict[int, Sequence[str]], shot: int, num_episodes: int,
                    seed: int, max_passes: Optional[int] = None,
                    workers: int = 0) -> List[Episode]:
    """The episodes PFENet's ``test.py`` evaluates, in order.

    PFENet ``util/dataset.py``: ``make_dataset`` keeps, in list order, the listed images
    holding a novel class of at least 2*32*32 pixels (the queries) and, per novel class,
    the listed images where it has that many pixels (the pools, in list order).
    ``SemData.__getitem__`` draws the query's class uniformly among the novel classes
    present in the query at *any* size (``random.randint``), then each support: one draw
    that is always discarded (the loop starts from the query's own path), then draws until
    the support is neither the query nor an index drawn for an earlier support. ``test.py``
    walks the list in order, at most 20 times (``for e in range(20)``), with one ``random``
    stream seeded by ``manual_seed``, and scores ``test_num + 1`` episodes (its loop breaks
    when ``(iter_num - 1) * batch_size >= test_num``); BAM's ``test.py`` scores exactly
    ``test_num`` with as many passes as needed.

    Args:
        queries: ``(name, novel classes present in the image at any size, ascending)``
            of the query images, in list order.
        pools: class id -> the names of its pool, in list order.
        shot: Supports per episode.
        num_episodes: Episodes to draw.
        seed: Seed of Python's ``random`` (PFENet: 321; BAM: each of its seeds).
        max_passes: Stop after this many passes over ``queries`` (PFENet: 20); None: none.
        workers: DataLoader workers of the reference's test loader. 0: one ``random``
            stream seeded with ``seed`` runs through every pass (``workers: 0``). ``W > 0``
            (the published runs: PFENet 8 for PASCAL, 16 for COCO; BAM 8): query ``j`` of a
            pass is drawn in worker ``j mod W``, whose ``random`` was seeded with that
            pass's base seed plus ``w`` (:func:`dataloader_base_seeds`; the references give
            the test loader no ``worker_init_fn``), so every pass has new streams.

    Returns:
        list: ``(query, [supports in draw order], class id)``; PFENet stacks the supports in
        reverse order, which no model's output depends on.
    """
    if not queries:
        raise ValueError('pfenet_episodes: no query image holds a novel class')
    if not (isinstance(workers, int) and workers >= 0):
        raise ValueError(f'workers must be an int >= 0, got {workers!r}')
    rng = random.Random(seed)
    total_passes = max_passes or -(-num_episodes // len(queries))
    base_seeds = dataloader_base_seeds(seed, total_passes) if workers else []
    episodes: List[Episode] = []
    passes = 0
    while len(episodes) < num_episodes and (max_passes is None or passes < max_passes):
        if workers:
            streams = [random.Random(base_seeds[passes] + w) for w in range(workers)]
        passes += 1
        for position, (name, present) in enumerate(queries):
            if len(episodes) == num_episodes:
                break
            if workers:
                rng = streams[position % workers]
            class_id = present[rng.randint(1, len(present)) - 1]
            pool = pools[class_id]
            if sum(n != name for n in pool) < shot:
                raise ValueError(f'class {class_id} has {len(pool)} pool images: too few for '
                                 f'{shot} supports other than the query {name}')
            picked: List[int] = []
            for _ in range(shot):
                rng.randint(1, len(pool))  # PFENet's first draw, always redrawn
                while True:
                    idx = rng.randint(1, len(pool)) - 1
                    if pool[idx] != name and idx not in picked:
                        break
                picked.append(idx)
            episodes.append((name, [pool[i] for i in picked], int(class_id)))
    return episodes


def _numpy_choice_one(rs: np.random.RandomState, n: int) -> int:
    """Index drawn by ``rs.choice(a, 1, replace=False)`` for ``len(a) == n``.

    numpy's legacy ``choice`` without replacement takes the first element of
    ``rs.permutation(n)``: this is that draw, stated explicitly.
    """
    return int(rs.permutation(n)[0])


def hsnet_pair_episodes(pairs: Sequence[Tuple[str, int]], shot: int, num_episodes: int,
                        seed: int = 0) -> List[Episode]:
    """HSNet's PASCAL-5i episodes: its split file's ``(name, class)`` pairs in file order.

    HSNet ``data/pascal.py``: item ``i`` is pair ``i mod len(pairs)``; each support is drawn
    by ``np.random.choice(pool, 1, replace=False)`` from the names paired with the class in
    the same file (in file order) and kept if it is not the query, until ``shot`` are kept
    (so a 5-shot episode may repeat a support, as HSNet's). ``test.py`` seeds numpy with 0
    (``utils.fix_randseed(0)``) before the first item.

    Args:
        pairs: ``(image name, 1-based class id)`` in file order.
        shot: Supports per episode.
        num_episodes: HSNet: 1000.
        seed: numpy seed (HSNet: 0).

    Returns:
        list: ``(query, supports, class id)``.
    """
    pools: Dict[int, List[str]] = {}
    for name, class_id in pairs:
        pools.setdefault(class_id, []).append(name)
    for class_id, pool in pools.items():
        if len(set(pool)) < 2:
            raise ValueError(f'class {class_id} has {len(pool)} listed image(s): a support '
                             'other than the query cannot be drawn')
    rs = np.random.RandomState(seed)
    episodes: List[Episode] = []
    for i in range(num_episodes):
        query, class_id = pairs[i % len(pairs)]
        episodes.append((query, _draw_others(rs, pools[class_id], query, shot), class_id))
    return episodes


def _draw_others(rs: np.random.RandomState, pool: Sequence[str], query: str,
                 shot: int) -> List[str]:
    supports: List[str] = []
    while len(supports) < shot:
        name = pool[_numpy_choice_one(rs, len(pool))]
        if name != query:
            supports.append(name)
    return supports


def hsnet_class_uniform_episodes(pools: Dict[int, Sequence[str]], shot: int,
                                 num_episodes: int, seed: int = 0) -> List[Episode]:
    """HSNet's COCO-20i episodes: class uniformly, then query and supports from its pool.

    HSNet ``data/coco.py`` (``load_frame``): ``np.random.choice`` of the class among the
    fold's classes (in ascending order), of the query in the class's list, then supports as
    :func:`hsnet_pair_episodes` does; the item index is ignored.

    Args:
        pools: class id (1-based, ascending order is HSNet's ``class_ids``) -> the class's
            image names in the order of HSNet's split file.
        shot, num_episodes, seed: As :func:`hsnet_pair_episodes`.
    """
    class_ids = sorted(pools)
    for class_id in class_ids:
        if len(set(pools[class_id])) < 2:
            raise ValueError(f'class {class_id} has {len(pools[class_id])} listed image(s)')
    rs = np.random.RandomState(seed)
    episodes: List[Episode] = []
    for _ in range(num_episodes):
        class_id = class_ids[_numpy_choice_one(rs, len(class_ids))]
        pool = pools[class_id]
        query = pool[_numpy_choice_one(rs, len(pool))]
        episodes.append((query, _draw_others(rs, pool, query, shot), class_id))
    return episodes


def hsnet_fss_episodes(queries: Sequence[Tuple[str, int]], shot: int,
                       seed: int = 0) -> List[Episode]:
    """HSNet's FSS-1000 episodes: every image of the split once.

    HSNet ``data/fss.py``: the split's classes sorted by name, each class's images sorted by
    path; each support is image ``n.jpg`` of the query's class, ``n`` drawn by
    ``np.random.choice(range(1, 11), 1, replace=False)``, kept if it is not the query.

    Args:
        queries: ``(name, class id)`` in HSNet's order; names are ``<class>/<stem>``.
        shot: Supports per episode.
        seed: numpy seed (HSNet: 0).
    """
    rs = np.random.RandomState(seed)
    episodes: List[Episode] = []
    for query, class_id in queries:
        folder = query.rsplit('/', 1)[0]
        pool = [f'{folder}/{n}' for n in range(1, 11)]
        episodes.append((query, _draw_others(rs, pool, query, shot), class_id))
    return episodes


# ---------------------------------------------------------------------------- geometry
def pfenet_resized_hw(height: int, width: int, size: int) -> Tuple[int, int]:
    """Size of an image in PFENet's test ``Resize``: long side ``size``, both sides floored.

    PFENet ``util/transform.py`` (``Resize.find_new_hw``): the long side becomes ``size``
    and the short side ``int(short * size / long)``; then each side not a multiple of 8 is
    floored to one (so a long side of 473 becomes 472).

    Returns:
        tuple[int, int]: (new height, new width).
    """
    if height >= width:
        new_h, new_w = size, int(width * (size * 1.0 / height))
    else:
        new_h, new_w = int(height * (size * 1.0 / width)), size
    return new_h // 8 * 8, new_w // 8 * 8


# ---------------------------------------------------------------------------- files
def write_episodes_file(path: str, episodes: Sequence[Tuple[str, Sequence[str], object]]) -> None:
    """Write episodes one a line: ``query<TAB>support ...<TAB>class id`` (tab-separated).

    N-way class ids are written comma-separated.
    """
    with open(path, 'w') as f:
        for query, supports, class_id in episodes:
            ids = (','.join(str(int(c)) for c in class_id)
                   if isinstance(class_id, (tuple, list)) else str(int(class_id)))
            fields = [query, *supports, ids]
            bad = [x for x in fields if '\t' in x or '\n' in x]
            if bad:
                raise ValueError(f'cannot write the name {bad[0]!r} to {path}: it holds a tab '
                                 'or a newline')
            f.write('\t'.join(fields) + '\n')


def read_episodes_file(path: str) -> List[Tuple[str, List[str], object]]:
    """Read a file of :func:`write_episodes_file`; errors name the file and the line."""
    episodes = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line.strip():
                continue
            fields = line.split('\t')
            if len(fields) < 3:
                raise ValueError(f'{path}:{lineno}: expected "query<TAB>support...<TAB>class", '
                                 f'got {line!r}')
            try:
                ids = [int(c) for c in fields[-1].split(',')]
            except ValueError:
                raise ValueError(f'{path}:{lineno}: class id {fields[-1]!r} is not an integer '
                                 '(or a comma-separated list of them)') from None
            class_id = ids[0] if len(ids) == 1 else tuple(ids)
            episodes.append((fields[0], fields[1:-1], class_id))
    if not episodes:
        raise ValueError(f'episodes file {path} holds no episode')
    return episodes
