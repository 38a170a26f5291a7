import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config, ConfigDict
from mmengine.infer import BaseInferencer
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample
from rich.progress import track

from mmfss.datasets.image_reader import DEFAULT_MAX_PIXELS, UnreadableImageError, read_image
from mmfss.datasets.mask_reader import MaskReading, MaskValue, read_mask
from mmfss.datasets.transforms.formatting import image_to_tensor
from mmfss.models.utils import SupportEncoding
from mmfss.models.utils.way_fusion import BACKGROUND_RULES
from mmfss.utils import check_checkpoint_file, check_device, save_png, trust_checkpoint
from mmfss.utils.checkpoint import check_state_dict_fits
from mmfss.visualization import episode_panel, overlay_mask, way_palette

__all__ = ['FewShotInferencer', 'SupportSet', 'list_images', 'MASK_SUFFIX']

ImageType = Union[str, np.ndarray]
PairType = Tuple[ImageType, ImageType]
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
MASK_SUFFIX = '_mask'  # X_mask.png is the mask of X.jpg in support folders


def list_images(folder: str) -> List[str]:
    """The image files of a query folder, sorted; ``*_mask.*`` files are masks, not queries.

    Raises:
        ValueError: the folder holds no image.
    """
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS)
                   and not osp.splitext(f)[0].endswith(MASK_SUFFIX))
    if not files:
        raise ValueError(f'query folder {folder} holds no image ({", ".join(IMAGE_EXTENSIONS)}; '
                         f'files named *{MASK_SUFFIX}.* are masks)')
    return [osp.join(folder, f) for f in files]


# loading and labelling steps of the test pipelines: the inferencer loads images itself
_LOADERS = ('LoadImageFromFile', 'LoadImageFromNDArray', 'LoadAnnotations', 'BinarizeMask')


@dataclass
class SupportSet:
    """Supports of one N-way K-shot task, encoded once (see
    :meth:`FewShotInferencer.encode_supports`).

    Attributes:
        encoding (SupportEncoding): The backbone features of the supports (and any neck
            results cached on first use).
        class_names (list[str | None]): Name of each way, in label order (label n = way n).
        images (list[list[np.ndarray]]): RGB support images of each way (for panels).
        masks (list[list[np.ndarray]]): Their binary masks (1 foreground).
        readings (list[list[MaskReading]]): How each support mask was read (file, rule,
            object share); empty for a set built by hand.
        skipped (list[str]): Supports left out because a file could not be read (with
            ``skip_unreadable=True``), each as one message naming the file.
    """

    encoding: SupportEncoding
    class_names: List[Optional[str]]
    images: List[List[np.ndarray]]
    masks: List[List[np.ndarray]]
    readings: List[List[MaskReading]] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)

    @property
    def ways(self) -> int:
        return len(self.class_names)


class FewShotInferencer(BaseInferencer):
    """Segment the class(es) of a few annotated support images in any number of queries.

    The few-shot counterpart of mmseg's ``MMSegInferencer``::

        inferencer = FewShotInferencer('configs/...py', 'work_dirs/.../iter_2000.pth')
        result = inferencer('photos/', supports=[('part1.jpg', 'part1_mask.png'),
                                                 ('part2.jpg', 'part2_mask.png')],
                            out_dir='out/')
        result['masks'][0]  # [H, W] uint8, 1 where the part is

    Supports are encoded once per call (or once for many calls with
    :meth:`encode_supports`) and reused for every query batch: the backbone sees each
    support image once, each query once.

    Images are file paths or ``np.ndarray`` [H, W, 3] uint8 in BGR order (as ``mmcv.imread``
    returns them, mmseg's convention). Files are read by
    :func:`~mmfss.datasets.image_reader.read_image`: the header is checked against
    ``max_pixels`` before any decoding, a truncated file is refused naming it. Masks are paths or arrays, read by
    :func:`~mmfss.datasets.mask_reader.read_mask` (0/255, 0/1, VOC style with a 255 border,
    alpha channels, colour masks, JPEGs, 1- and 16-bit PNGs; ``mask_value`` /
    ``mask_threshold`` choose the reading of ambiguous masks). Each mask must have its
    image's size and mark the object.

    N-way: ``supports`` may be a dict ``{class name: [(image, mask), ...]}`` with the same
    number of shots for every class; labels 1..N follow the dict's order, and the fused
    prediction follows the model's ``test_cfg.background_rule`` (see
    :func:`~mmfss.models.utils.fuse_ways`).

    Args:
        model (str | dict | Config): Config file or config (mmfss has no model zoo: there
            are no model names).
        weights (str, optional): Checkpoint. Named by the user, so it may be loaded with
            ``weights_only=False`` if it needs it (see :mod:`mmfss.utils.checkpoint`).
        device (str): Device to run on. Defaults to ``'cpu'``.
        scope (str): Registry scope. Defaults to ``'mmseg'``.
        show_progress (bool): Show a progress bar over query batches.
        background_rule (str, optional): How N-way predictions decide background
            (``'mean'`` or ``'threshold'``, see :func:`~mmfss.models.utils.fuse_ways`);
            None keeps the config's ``test_cfg.background_rule``.
        fg_threshold (float, optional): Foreground probability threshold of
            ``background_rule='threshold'``; None keeps the config's.
        max_pixels (int, optional): Largest image or mask file accepted (width x height,
            read from the header before decoding). Defaults to 100 megapixels; None: no
            limit.

    Raises:
        FileNotFoundError: the config or checkpoint file does not exist.
        TypeError: the config's model is not a few-shot segmentor.
        ValueError: the device is unusable, the checkpoint is no PyTorch checkpoint or does
            not fit the config's model (missing, unexpected or differently shaped weights),
            or the config has no few-shot test pipeline.
    """

    def __init__(self,
                 model: Union[str, dict, Config, ConfigDict],
                 weights: Optional[str] = None,
                 device: str = 'cpu',
                 scope: str = 'mmseg',
                 show_progress: bool = True,
                 background_rule: Optional[str] = None,
                 fg_threshold: Optional[float] = None,
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> None:
        init_default_scope(scope)
        if max_pixels is not None and not (isinstance(max_pixels, int) and max_pixels > 0):
            raise ValueError(f'max_pixels must be None or an int > 0, got {max_pixels!r}')
        self.max_pixels = max_pixels
        if isinstance(model, (str, os.PathLike)):
            model = os.fspath(model)
            if not osp.isfile(model):
                raise FileNotFoundError(f'config file {model} does not exist (mmfss has no '
                                        'model names: give a config file)')
        if weights is not None:
            if not osp.isfile(weights):
                raise FileNotFoundError(f'checkpoint {weights} does not exist')
            check_checkpoint_file(weights)
            trust_checkpoint(weights)
        check_device(device, 'device')
        if background_rule is not None and background_rule not in BACKGROUND_RULES:
            raise ValueError(f'background_rule must be one of {BACKGROUND_RULES}, got '
                             f'{background_rule!r}')
        if fg_threshold is not None and not 0 < float(fg_threshold) < 1:
            raise ValueError(f'fg_threshold must be in (0, 1), got {fg_threshold}')
        self._config_name = model if isinstance(model, str) else 'the given config'
        self._weights_name = weights
        super().__init__(model=model, weights=weights, device=device, scope=scope,
                         show_progress=show_progress)
        if background_rule is not None:
            self.model.background_rule = background_rule
        if fg_threshold is not None:
            self.model.fg_threshold = float(fg_threshold)

    # ------------------------------------------------------------------ set-up
    def _load_weights_to_model(self, model, checkpoint, cfg) -> None:
        if not hasattr(model, 'encode_support'):
            raise TypeError(f'{self._config_name} builds a {type(model).__name__}, not a '
                            'few-shot segmentor (FewShotSegmentor): use a config from '
                            'configs/baseline, configs/cmnet or configs/dotgraph')
        if checkpoint is None:
            super()._load_weights_to_model(model, checkpoint, cfg)  # warns: random weights
            return
        state = check_state_dict_fits(model, checkpoint, self._weights_name,
                                      self._config_name)
        model.load_state_dict(state, strict=True)
        meta = checkpoint.get('meta', {})
        if 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']

    def _init_pipeline(self, cfg) -> Compose:
        """Query and support transforms of the config's test pipeline, without loading."""
        pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline', [])
        episode = next((t for t in pipeline if t.get('type') == 'ApplyToEpisode'), None)
        if episode is None:
            raise ValueError(f'{self._config_name}: the test pipeline has no ApplyToEpisode '
                             'step, so it is not a few-shot config')

        def strip(transforms):
            return Compose([t for t in transforms if t.get('type') not in _LOADERS])

        self.query_pipeline = strip(episode['transforms'])
        self.support_pipeline = strip(episode.get('support_transforms') or
                                      episode['transforms'])
        self._protocol_keys = self._test_protocol(cfg)
        return self.query_pipeline

    @staticmethod
    def _test_protocol(cfg) -> dict:
        """``protocol`` and ``test_size`` of the config's test dataset, which the test
        geometry (:class:`~mmfss.datasets.transforms.ProtocolTestResize`) reads; empty for
        a dataset without a protocol."""
        dataset = cfg.get('test_dataloader', {}).get('dataset', {})
        dataset = dataset.get('episodic', dataset)
        dataset_cls = DATASETS.get(dataset.get('type', '')) if dataset.get('type') else None
        if dataset_cls is None or not hasattr(dataset_cls, 'protocol_geometry'):
            return {}
        protocol, size = dataset_cls.protocol_geometry(dataset.get('protocol', 'default'),
                                                       dataset.get('test_size'))
        return {} if protocol is None else dict(protocol=protocol, test_size=size)

    def _init_collate(self, cfg):
        return None  # queries are batched by the model's data preprocessor

    def _init_visualizer(self, cfg):
        return None  # panels and overlays are drawn by mmfss.visualization

    # ------------------------------------------------------------------ loading
    def _load_image(self, image: ImageType, what: str) -> Tuple[np.ndarray, Optional[str]]:
        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f'{what}: an image array must be [H, W, 3] uint8 (BGR), got '
                                 f'{image.dtype} {image.shape}')
            return image, None
        path = os.fspath(image)
        return read_image(path, self.max_pixels, what=f'{what}: image'), path

    def _load_mask(self, mask: ImageType, what: str, mask_value: MaskValue = None,
                   mask_threshold: Optional[float] = None) -> MaskReading:
        """The [H, W] uint8 mask (1 object, 0 background, 255 ignore) and how it was read."""
        if not isinstance(mask, np.ndarray) and not osp.isfile(os.fspath(mask)):
            raise FileNotFoundError(f'{what}: mask {os.fspath(mask)} does not exist')
        return read_mask(mask, mask_value=mask_value, threshold=mask_threshold, what=what,
                         max_pixels=self.max_pixels)

    def _support_tensors(self, pairs: Sequence[PairType], way: int,
                         mask_value: MaskValue = None, mask_threshold: Optional[float] = None,
                         skipped: Optional[List[str]] = None):
        """Load the supports of one way; with a ``skipped`` list, a support whose file
        cannot be read is named there and left out instead of raising."""
        images, masks, rgb, binary, readings = [], [], [], [], []
        for i, pair in enumerate(pairs):
            what = f'support {i + 1} of way {way}'
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f'{what}: expected an (image, mask) pair, got {pair!r}')
            try:
                img, path = self._load_image(pair[0], what)
                reading = self._load_mask(pair[1], what, mask_value, mask_threshold)
            except (FileNotFoundError, UnreadableImageError) as err:
                if skipped is None:
                    raise
                skipped.append(str(err))
                continue
            mask, mask_name = reading.mask, reading.source
            img_name = path or 'the image array'
            if mask.shape != img.shape[:2]:
                raise ValueError(f'{mask_name} is {mask.shape[1]}x{mask.shape[0]} '
                                 f'(WxH) but {img_name} is {img.shape[1]}x{img.shape[0]}')
            results = self.support_pipeline(
                dict(img=img, img_path=path, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                     gt_seg_map=mask, seg_fields=['gt_seg_map'], **self._protocol_keys))
            images.append(image_to_tensor(results['img']))
            masks.append(torch.from_numpy(results['gt_seg_map'].astype(np.int64)))
            rgb.append(mmcv.bgr2rgb(img))
            binary.append((mask == 1).astype(np.uint8))
            readings.append(reading)
        return images, masks, rgb, binary, readings

    @property
    def needs_class_names(self) -> bool:
        """Whether the model uses text priors (CLIPPriorNeck), so every class needs a name."""
        return any(type(n).__name__ == 'CLIPPriorNeck' for n in getattr(self.model, 'necks', []))

    @torch.no_grad()
    def encode_supports(self, supports: Union[Sequence[PairType], Dict[str, Sequence[PairType]]],
                        class_name: Optional[str] = None, mask_value: MaskValue = None,
                        mask_threshold: Optional[float] = None,
                        skip_unreadable: bool = False) -> SupportSet:
        """Load, check and encode the supports of a task once.

        Args:
            supports: ``[(image, mask), ...]`` (one class, named ``class_name``) or
                ``{class name: [(image, mask), ...], ...}`` (N-way).
            class_name (str, optional): Name of the one class (text priors need it).
            mask_value (int | tuple, optional): The object's value (or colour) in every
                mask; see :func:`~mmfss.datasets.mask_reader.read_mask`.
            mask_threshold (float, optional): Grey levels ``>=`` it are the object.
            skip_unreadable (bool): Leave out a support whose image or mask file cannot be
                read (missing, damaged, over ``max_pixels``) and name it in
                ``SupportSet.skipped``, instead of raising. A class left with no support is
                still an error naming it; ambiguous or empty masks are errors either way.

        Returns:
            SupportSet: pass it as ``supports`` to :meth:`__call__` for any number of calls.
        """
        if isinstance(supports, dict):
            if class_name is not None:
                raise ValueError('class_name is for one class; with a dict of supports the '
                                 'keys are the class names')
            names, groups = list(supports), list(supports.values())
        else:
            names, groups = [class_name], [supports]
        if not groups or any(not g for g in groups):
            raise ValueError('every class needs at least one (image, mask) support pair')
        shots = {len(g) for g in groups}
        if len(shots) != 1 and not skip_unreadable:  # else: checked on what could be read
            raise ValueError('every class needs the same number of supports, got '
                             + ', '.join(f'{n}: {len(g)}' for n, g in zip(names, groups)))
        if self.needs_class_names and any(not n for n in names):
            raise ValueError(f'{self._config_name} uses text priors (CLIPPriorNeck): give the '
                             'class name (class_name=..., or --class-name)')
        skipped: Optional[List[str]] = [] if skip_unreadable else None
        loaded = [self._support_tensors(g, way, mask_value, mask_threshold, skipped)
                  for way, g in enumerate(groups, 1)]
        if skipped:
            empty = [n or f'way {w}' for w, (n, group) in enumerate(zip(names, loaded), 1)
                     if not group[0]]
            if empty:
                raise ValueError(f'class {", ".join(map(str, empty))} has no readable support '
                                 f'left ({len(skipped)} skipped: {"; ".join(skipped)})')
        counts = [len(group[0]) for group in loaded]
        if skip_unreadable:
            if len(set(counts)) > 1:
                raise ValueError('after leaving out the unreadable supports the classes have '
                                 'different numbers of supports (' + ', '.join(
                                     f'{n}: {c}' for n, c in zip(names, counts)) +
                                 f'; skipped: {"; ".join(skipped or []) or "none"})')
            shots = {counts[0]}
        flat_imgs = [i for imgs, *_ in loaded for i in imgs]
        flat_masks = [m for _, masks, *_ in loaded for m in masks]
        pre = self.model.data_preprocessor
        size = pre.target_size([i.shape[-2:] for i in flat_imgs])
        padded = [pre.pad_supports(i[None], m[None], size) for i, m in zip(flat_imgs, flat_masks)]
        device = next(self.model.parameters()).device
        support = torch.cat([p[0] for p in padded]).to(device)
        masks = torch.cat([p[1] for p in padded]).to(device)
        w, k = len(groups), shots.pop()
        encoding = self.model.encode_support(
            support.view(w, k, *support.shape[1:]), masks.view(w, k, *masks.shape[1:]),
            class_names=names)
        return SupportSet(encoding=encoding, class_names=names,
                          images=[group[2] for group in loaded],
                          masks=[group[3] for group in loaded],
                          readings=[group[4] for group in loaded], skipped=skipped or [])

    # ------------------------------------------------------------------ queries
    def _query_list(self, queries) -> List[ImageType]:
        if isinstance(queries, (str, os.PathLike, np.ndarray)):
            queries = [queries]
        flat: List[ImageType] = []
        for query in queries:
            if isinstance(query, (str, os.PathLike)) and osp.isdir(query):
                flat += list_images(os.fspath(query))
            else:
                flat.append(query)
        if not flat:
            raise ValueError('no query given')
        return flat

    @staticmethod
    def _names(queries: List[ImageType]) -> List[str]:
        names = [osp.splitext(osp.basename(os.fspath(q)))[0] if not isinstance(q, np.ndarray)
                 else f'query_{i:05d}' for i, q in enumerate(queries)]
        if len(set(names)) < len(names):  # same stem in different folders
            names = [f'{i:05d}_{n}' for i, n in enumerate(names)]
        return names

    def _query_batch(self, items: List[Tuple[ImageType, str]],
                     failed: Optional[List[Tuple[ImageType, str]]] = None):
        """Load a batch of queries; with a ``failed`` list, an unreadable query is noted
        there and left out (the loaded items are returned last)."""
        tensors, samples, originals, loaded = [], [], [], []
        for query, name in items:
            try:
                img, path = self._load_image(query, f'query {name}')
            except (FileNotFoundError, UnreadableImageError) as err:
                if failed is None:
                    raise
                failed.append((query, str(err)))
                continue
            loaded.append((query, name))
            results = self.query_pipeline(dict(img=img, img_path=path, img_shape=img.shape[:2],
                                               ori_shape=img.shape[:2], **self._protocol_keys))
            tensors.append(image_to_tensor(results['img']))
            sample = SegDataSample()
            meta = dict(img_path=path, ori_shape=img.shape[:2],
                        img_shape=results['img'].shape[:2])
            if 'img_padding_size' in results:  # a protocol's padded test geometry
                meta['img_padding_size'] = list(results['img_padding_size'])
            sample.set_metainfo(meta)
            samples.append(sample)
            originals.append(img)
        return tensors, samples, originals, loaded

    @torch.no_grad()
    def __call__(self,
                 queries,
                 supports: Union[SupportSet, Sequence[PairType], Dict[str, Sequence[PairType]]],
                 class_name: Optional[str] = None,
                 batch_size: int = 4,
                 return_probs: bool = False,
                 out_dir: Optional[str] = None,
                 panels: bool = False,
                 opacity: float = 0.5,
                 mask_value: MaskValue = None,
                 mask_threshold: Optional[float] = None,
                 skip_unreadable: bool = False) -> dict:
        """Segment the support class(es) in every query.

        Args:
            queries: An image path, a folder (its image files, sorted, without ``*_mask.*``
                files), an array, or a list of paths, folders and arrays.
            supports: ``[(image, mask), ...]``, ``{class name: [(image, mask), ...]}`` or a
                :class:`SupportSet` from :meth:`encode_supports`.
            class_name (str, optional): Name of the one class (text priors need it).
            batch_size (int): Queries per forward pass.
            return_probs (bool): Also return the foreground probability of each class.
            out_dir (str, optional): Write ``pred/<name>.png`` (labels 0..N) and
                ``vis/<name>.png`` (colour overlay) per query there; with ``panels=True``
                also ``panel/<name>.png`` (supports with masks next to the prediction).
                Files are written atomically.
            opacity (float): Opacity of the overlay colours.
            mask_value, mask_threshold: Reading of the support masks (see
                :meth:`encode_supports`); unused with a :class:`SupportSet`.
            skip_unreadable (bool): A query file that cannot be read (missing, damaged,
                over ``max_pixels``) is named in ``failed`` and the others are segmented
                (and written), instead of raising at the first. Supports are read with the
                same option (see :meth:`encode_supports`).

        Returns:
            dict: ``names`` (output name of each segmented query), ``masks`` (list of
            [H, W] uint8 label maps at each query's size: 0 background, n the n-th class),
            ``class_names`` (the classes of labels 1..N), ``failed`` (``(query, message)``
            of each query that could not be read; empty unless ``skip_unreadable``) and,
            with ``return_probs``, ``probs`` (list of [N, H, W] float32 foreground
            probabilities).
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be an int >= 1, got {batch_size!r}')
        support_set = (supports if isinstance(supports, SupportSet) else
                       self.encode_supports(supports, class_name, mask_value, mask_threshold,
                                            skip_unreadable))
        queries = self._query_list(queries)
        names = self._names(queries)
        batches = [list(zip(queries, names))[i:i + batch_size]
                   for i in range(0, len(queries), batch_size)]
        masks, probs, done = [], [], []
        failed: List[Tuple[ImageType, str]] = []
        for batch in (track(batches, description='Inference') if self.show_progress and
                      len(batches) > 1 else batches):
            tensors, samples, originals, batch = self._query_batch(
                batch, failed if skip_unreadable else None)
            if not batch:
                continue
            outputs = self.forward(tensors, samples, support_set)
            labels, fg = self.postprocess(outputs, support_set, return_probs)
            masks.extend(labels)
            probs.extend(fg)
            done.extend(name for _, name in batch)
            if out_dir:
                self.visualize([mmcv.bgr2rgb(o) for o in originals], labels,
                               [name for _, name in batch], support_set, out_dir, panels,
                               opacity)
        result = dict(names=done, masks=masks, class_names=list(support_set.class_names),
                      failed=failed)
        if return_probs:
            result['probs'] = probs
        return result

    def forward(self, queries: List[torch.Tensor], samples: List[SegDataSample],
                support_set: SupportSet) -> List[SegDataSample]:
        """Predict one batch of loaded queries ([3, H, W] uint8 BGR) with the supports."""
        query, samples = self.model.data_preprocessor.batch_queries(queries, samples)
        device = next(self.model.parameters()).device
        return self.model.predict_with_support(query.to(device), support_set.encoding,
                                               samples)

    def postprocess(self, outputs: List[SegDataSample], support_set: SupportSet,
                    return_probs: bool = False) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Label maps [H, W] uint8 and, on request, foreground probabilities [N, H, W]."""
        labels, probs = [], []
        for output in outputs:
            labels.append(output.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8))
            if return_probs:
                scores = output.seg_logits.data.float()
                fg = scores.softmax(0)[1:] if support_set.ways == 1 else scores[1:].exp()
                probs.append(fg.cpu().numpy())
        return labels, probs

    def visualize(self, images: List[np.ndarray], labels: List[np.ndarray], names: List[str],
                  support_set: SupportSet, out_dir: str, panels: bool = False,
                  opacity: float = 0.5) -> None:
        """Write the prediction, the overlay and optionally the panel of each query."""
        for rgb, label, name in zip(images, labels, names):
            self._write(out_dir, name, rgb, label, support_set, panels, opacity)

    @staticmethod
    def _write(out_dir: str, name: str, rgb: np.ndarray, label: np.ndarray,
               support_set: SupportSet, panels: bool, opacity: float) -> None:
        save_png(osp.join(out_dir, 'pred', f'{name}.png'), label)
        palette = way_palette(support_set.ways)
        save_png(osp.join(out_dir, 'vis', f'{name}.png'),
                 overlay_mask(rgb, label, palette, alpha=opacity))
        if panels:
            supports = [(img, mask, way)
                        for way, (imgs, ms) in enumerate(zip(support_set.images,
                                                             support_set.masks), 1)
                        for img, mask in zip(imgs, ms)]
            save_png(osp.join(out_dir, 'panel', f'{name}.png'),
                     episode_panel(rgb, label, supports, support_set.class_names))
