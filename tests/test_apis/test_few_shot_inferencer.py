import copy
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmseg.registry import DATASETS, MODELS
from PIL import Image

from mmfss.apis import FewShotInferencer, SupportSet
from mmfss.models.utils import fuse_ways

from ..conftest import REPO


@pytest.fixture(scope='module')
def inferencer(trained_shapes_model):
    config, checkpoint = trained_shapes_model
    return FewShotInferencer(config, checkpoint, show_progress=False)


@pytest.fixture(scope='module')
def val_dataset(trained_shapes_model):
    cfg = Config.fromfile(trained_shapes_model[0])
    return DATASETS.build(cfg.test_dataloader.dataset)


def _image(ds, name):
    return ds.data_list[ds._name_to_index[name]]['img_path']


def _mask_file(ds, name, class_id, folder):
    """The binary mask of ``class_id`` in image ``name``, written as a 0/255 PNG."""
    label = np.asarray(Image.open(ds.data_list[ds._name_to_index[name]]['seg_map_path']))
    path = osp.join(folder, f'{name}_c{class_id}.png')
    Image.fromarray(((label == class_id) * 255).astype(np.uint8)).save(path)
    return path


def test_matches_the_test_pipeline(inferencer, val_dataset, tmp_path):
    """On dataset episodes the inferencer predicts what model.predict predicts."""
    model = inferencer.model
    for idx in range(6):
        query, supports, class_id = val_dataset.episodes[idx]
        item = val_dataset[idx]
        with torch.no_grad():
            data = model.data_preprocessor(pseudo_collate([item]), False)
            pred = model.predict(**data)[0]
        expected = pred.pred_sem_seg.data[0].numpy()
        expected_fg = pred.seg_logits.data.softmax(0)[1].numpy()
        pairs = [(_image(val_dataset, s), _mask_file(val_dataset, s, class_id, tmp_path))
                 for s in supports]
        out = inferencer(_image(val_dataset, query), pairs, return_probs=True)
        assert out['masks'][0].shape == expected.shape
        assert np.array_equal(out['masks'][0], expected)
        # the briefly trained model's probabilities vary over the image: compare them too
        assert expected_fg.std() > 1e-3
        np.testing.assert_allclose(out['probs'][0][0], expected_fg, atol=1e-5)


def test_files_arrays_folders_and_outputs(inferencer, val_dataset, tmp_path):
    query, supports, class_id = val_dataset.episodes[0]
    pair = (_image(val_dataset, supports[0]),
            _mask_file(val_dataset, supports[0], class_id, tmp_path))
    queries = [_image(val_dataset, n) for n in sorted(val_dataset._query_names)[:5]]
    by_path = inferencer(queries, [pair], return_probs=True, out_dir=str(tmp_path / 'out'),
                         panels=True, batch_size=2)
    arrays = [mmcv.imread(q) for q in queries]
    mask_array = np.asarray(Image.open(pair[1])) // 255 * 7  # any non-zero = foreground
    by_array = inferencer(arrays, [(mmcv.imread(pair[0]), mask_array)], return_probs=True,
                          batch_size=5)
    assert by_array['names'] == [f'query_{i:05d}' for i in range(5)]
    assert by_path['names'] == [osp.splitext(osp.basename(q))[0] for q in queries]
    for a, b, pa, pb in zip(by_path['masks'], by_array['masks'], by_path['probs'],
                            by_array['probs']):
        assert np.array_equal(a, b)
        np.testing.assert_allclose(pa, pb, atol=1e-5)
        assert pa.shape == (1, *a.shape) and pa.min() >= 0 and pa.max() <= 1
        assert np.array_equal(a, (pa[0] > 0.5).astype(np.uint8))
    # a folder of images (here: a copy of the queries)
    folder = tmp_path / 'queries'
    folder.mkdir()
    for q in queries:
        Image.open(q).save(folder / osp.basename(q).replace('.jpg', '.png'))
    by_folder = inferencer(str(folder), [pair])
    assert by_folder['names'] == by_path['names']
    for name, mask in zip(by_path['names'], by_path['masks']):
        written = np.asarray(Image.open(tmp_path / 'out' / 'pred' / f'{name}.png'))
        assert np.array_equal(written, mask)
        vis = np.asarray(Image.open(tmp_path / 'out' / 'vis' / f'{name}.png'))
        assert vis.shape == (*mask.shape, 3)
        panel = np.asarray(Image.open(tmp_path / 'out' / 'panel' / f'{name}.png'))
        assert panel.shape[0] == 256 + 40 and panel.shape[2] == 3


def test_supports_are_encoded_once(inferencer, val_dataset, tmp_path):
    _, supports, class_id = val_dataset.episodes[0]
    pairs = [(_image(val_dataset, s), _mask_file(val_dataset, s, class_id, tmp_path))
             for s in supports] * 3  # 3 shots
    queries = [_image(val_dataset, n) for n in sorted(val_dataset._query_names)[:7]]
    seen = []
    handle = inferencer.model.backbone.register_forward_hook(
        lambda module, args, out: seen.append(args[0].shape[0]))
    try:
        support_set = inferencer.encode_supports(pairs)
        assert isinstance(support_set, SupportSet) and seen == [3]
        first = inferencer(queries, support_set, batch_size=3)
        second = inferencer(queries[:2], support_set, batch_size=3)
    finally:
        handle.remove()
    assert seen == [3, 3, 3, 1, 2]  # supports once; queries in batches, never re-encoded
    assert all(np.array_equal(a, b) for a, b in zip(first['masks'], second['masks']))


def test_nway(inferencer, val_dataset, tmp_path):
    """Two named classes at once: each way's probability is its one-way probability and
    the labels are their fusion."""
    groups = {}
    for query, supports, class_id in val_dataset.episodes:
        name = val_dataset.metainfo['classes'][class_id]
        if name not in groups:
            groups[name] = [(_image(val_dataset, supports[0]),
                             _mask_file(val_dataset, supports[0], class_id, tmp_path))]
        if len(groups) == 2:
            break
    queries = [_image(val_dataset, n) for n in sorted(val_dataset._query_names)[:4]]
    out = inferencer(queries, groups, return_probs=True)
    assert out['class_names'] == list(groups)
    singles = [inferencer(queries, pairs, class_name=name, return_probs=True)
               for name, pairs in groups.items()]
    for i, (label, probs) in enumerate(zip(out['masks'], out['probs'])):
        assert probs.shape == (2, *label.shape)
        for way, single in enumerate(singles):
            np.testing.assert_allclose(probs[way], single['probs'][i][0], atol=0.05)
        # the fusion of the returned probabilities (they were resized in the log domain,
        # so pixels on region borders may differ)
        p = torch.from_numpy(probs)[None].clamp(1e-7, 1 - 1e-7)
        fused = fuse_ways(torch.stack([torch.log1p(-p), p.log()], 2), 'mean').argmax(1)[0]
        assert (fused.numpy() == label).mean() > 0.99
        assert set(np.unique(label)) <= {0, 1, 2}


class TestBadInput:

    @pytest.fixture(scope='class')
    def pair(self, val_dataset, tmp_path_factory):
        _, supports, class_id = val_dataset.episodes[0]
        folder = tmp_path_factory.mktemp('pair')
        return (_image(val_dataset, supports[0]),
                _mask_file(val_dataset, supports[0], class_id, str(folder)))

    def test_missing_files(self, inferencer, pair, tmp_path):
        with pytest.raises(FileNotFoundError, match=r'support 1 of way 1: image .*nope\.jpg'):
            inferencer(pair[0], [(str(tmp_path / 'nope.jpg'), pair[1])])
        with pytest.raises(FileNotFoundError, match=r'mask .*nope\.png does not exist'):
            inferencer(pair[0], [(pair[0], str(tmp_path / 'nope.png'))])
        with pytest.raises(FileNotFoundError, match=r'query .*: image .*q\.jpg'):
            inferencer([str(tmp_path / 'q.jpg')], [pair])
        (tmp_path / 'empty').mkdir()
        with pytest.raises(ValueError, match='holds no image'):
            inferencer(str(tmp_path / 'empty'), [pair])

    def test_mask_size_and_content(self, inferencer, pair, tmp_path):
        small = tmp_path / 'small.png'
        Image.fromarray(np.ones((10, 12), np.uint8)).save(small)
        with pytest.raises(ValueError, match=r'small\.png is 12x10 \(WxH\) but .* is 96x96'):
            inferencer(pair[0], [(pair[0], str(small))])
        empty = tmp_path / 'empty.png'
        Image.fromarray(np.zeros((96, 96), np.uint8)).save(empty)
        with pytest.raises(ValueError, match=r'empty\.png is empty'):
            inferencer(pair[0], [(pair[0], str(empty))])
        with pytest.raises(ValueError, match=r'\[H, W, 3\] uint8'):
            inferencer(np.zeros((8, 8), np.uint8), [pair])
        with pytest.raises(ValueError, match='same number of supports'):
            inferencer(pair[0], {'a': [pair], 'b': [pair, pair]})
        with pytest.raises(ValueError, match='pair'):
            inferencer(pair[0], [pair[0]])

    def test_model_config_mismatch(self, trained_shapes_model, tmp_path):
        config, checkpoint = trained_shapes_model
        other = Config.fromfile(config)
        other.model.decode_head.channels = 24
        model = MODELS.build(other.model)
        wrong = tmp_path / 'wrong.pth'
        torch.save(dict(state_dict=model.state_dict()), wrong)
        with pytest.raises(ValueError, match=r'wrong\.pth does not fit the model of .*tiny\.py'
                           r'.*different shape: decode_head'):
            FewShotInferencer(config, str(wrong))
        psp = f'{REPO}/configs/base_learner/pspnet_r50-d8_4xb4-20k_pascal5i-base-fold0.py'
        cfg = Config.fromfile(psp)
        cfg.model.backbone.init_cfg = None
        with pytest.raises(TypeError, match='builds a EncoderDecoder, not a few-shot'):
            FewShotInferencer(cfg)
        with pytest.raises(FileNotFoundError, match='config file'):
            FewShotInferencer(str(tmp_path / 'missing.py'), checkpoint)

    def test_text_prior_needs_a_class_name(self, pair):
        cfg = Config.fromfile(
            f'{REPO}/configs/dotgraph/dotgraph_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py')
        inferencer = FewShotInferencer(copy.deepcopy(cfg), show_progress=False)
        with pytest.raises(ValueError, match='class name'):
            inferencer(pair[0], [pair])
        out = inferencer(pair[0], [pair], class_name='disk-stripes')
        assert out['masks'][0].shape == (96, 96)


def test_mask_formats_people_save(inferencer, val_dataset, tmp_path):
    """The same support mask saved as 0/255, an RGBA cut-out and a 16-bit PNG gives the same
    prediction; VOC style (object 1 + a 255 border, ignored) and a JPEG all but a few
    pixels."""
    query, supports, class_id = val_dataset.episodes[0]
    image = _image(val_dataset, supports[0])
    label = np.asarray(Image.open(val_dataset.data_list[
        val_dataset._name_to_index[supports[0]]]['seg_map_path']))
    obj = label == class_id
    Image.fromarray(obj.astype(np.uint8) * 255).save(tmp_path / 'plain.png')
    voc = obj.astype(np.uint8)
    voc[label == 255] = 255
    Image.fromarray(voc, 'P').save(tmp_path / 'voc.png')
    rgba = np.zeros((*obj.shape, 4), np.uint8)
    rgba[obj] = (200, 30, 90, 255)
    rgba[~obj, 3] = 0
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'cutout.png')
    Image.fromarray(obj.astype(np.uint16) * 65535).save(tmp_path / 'deep.png')
    Image.fromarray(obj.astype(np.uint8) * 255).save(tmp_path / 'lossy.jpg', quality=75)
    q = _image(val_dataset, query)
    plain = inferencer(q, [(image, str(tmp_path / 'plain.png'))])['masks'][0]
    for name in ('cutout.png', 'deep.png'):
        assert np.array_equal(inferencer(q, [(image, str(tmp_path / name))])['masks'][0],
                              plain), name
    for name in ('voc.png', 'lossy.jpg'):  # border ignored / JPEG noise: nearly the same
        other = inferencer(q, [(image, str(tmp_path / name))])['masks'][0]
        assert (other == plain).mean() > 0.98, name


def test_folder_queries_skip_masks_and_rule_options(trained_shapes_model, val_dataset,
                                                     tmp_path):
    from mmfss.apis.few_shot_inferencer import list_images
    _, supports, class_id = val_dataset.episodes[0]
    image = _image(val_dataset, supports[0])
    mask = _mask_file(val_dataset, supports[0], class_id, str(tmp_path))
    folder = tmp_path / 'photos'
    folder.mkdir()
    Image.open(image).save(folder / 'a.jpg')
    Image.open(mask).save(folder / 'a_mask.png')
    assert list_images(str(folder)) == [str(folder / 'a.jpg')]
    config, checkpoint = trained_shapes_model
    inf = FewShotInferencer(config, checkpoint, show_progress=False,
                            background_rule='threshold', fg_threshold=0.3)
    assert inf.model.background_rule == 'threshold' and inf.model.fg_threshold == 0.3
    assert inf(str(folder), [(image, mask)])['names'] == ['a']
    with pytest.raises(ValueError, match="background_rule must be one of"):
        FewShotInferencer(config, checkpoint, background_rule='max')
    with pytest.raises(ValueError, match=r'fg_threshold must be in \(0, 1\)'):
        FewShotInferencer(config, checkpoint, fg_threshold=1.5)


def test_devices_and_checkpoints_are_checked(trained_shapes_model, tmp_path):
    config, checkpoint = trained_shapes_model
    with pytest.raises(ValueError, match="device 'gpu' is not a device"):
        FewShotInferencer(config, checkpoint, device='gpu')
    if torch.cuda.is_available():
        missing, message = f'cuda:{torch.cuda.device_count()}', 'CUDA device'
    else:
        missing, message = 'cuda:0', 'CUDA is not available on this machine'
    with pytest.raises(ValueError, match=message):
        FewShotInferencer(config, checkpoint, device=missing)
    text = tmp_path / 'notes.pth'
    text.write_text('epoch 12: loss 0.31\n')
    with pytest.raises(ValueError, match=r'notes\.pth is not a PyTorch checkpoint'):
        FewShotInferencer(config, str(text))
    with pytest.raises(FileNotFoundError, match='no model names'):
        FewShotInferencer('fss-baseline_r18')


@pytest.mark.parametrize('device', ['meta'] + (['cuda'] if torch.cuda.is_available() else []))
def test_runs_with_the_model_off_the_cpu(trained_shapes_model, val_dataset, tmp_path, device):
    """--device cuda, proven on CPU: with the model on PyTorch's meta device (a stand-in
    for a GPU), supports and queries are moved to the model's device before they are
    normalised, so encode + predict run; the host reads only the outputs. (On a CUDA
    machine the same runs on the GPU.)"""
    from mmfss.testing import MetaHostReads
    config, checkpoint = trained_shapes_model
    offload = FewShotInferencer(config, checkpoint, show_progress=False)
    offload.model.to(device)
    _, supports, class_id = val_dataset.episodes[0]
    pairs = [(_image(val_dataset, s), _mask_file(val_dataset, s, class_id, tmp_path))
             for s in supports]
    queries = [_image(val_dataset, n) for n in sorted(val_dataset._query_names)[:3]]
    with MetaHostReads() as reads:
        support_set = offload.encode_supports(pairs)
        assert support_set.encoding.support_feats[0].device.type == device
        out = offload(queries, support_set, batch_size=2, return_probs=True)
    assert len(out['masks']) == 3
    assert out['masks'][0].shape == mmcv.imread(queries[0]).shape[:2]
    if device == 'meta':
        assert reads.reads == {'cpu': 6}  # a label map and a probability map per query
