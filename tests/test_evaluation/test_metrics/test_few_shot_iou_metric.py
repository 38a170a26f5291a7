import pytest
import torch
from mmseg.registry import METRICS

from mmfss.evaluation import episode_areas


def _sample(pred, label, class_id):
    return dict(pred_sem_seg=dict(data=torch.tensor(pred)[None]),
                gt_sem_seg=dict(data=torch.tensor(label)[None]), class_id=class_id,
                img_path=f'q{class_id}.jpg')


class TestFewShotIoUMetric:

    def test_areas(self):
        pred = torch.tensor([[1, 1, 0], [0, 1, 0]])
        label = torch.tensor([[1, 0, 0], [255, 1, 1]])
        # valid pixels: 5; fg: pred {(0,0),(0,1),(1,1)}, gt {(0,0),(1,1),(1,2)}
        assert episode_areas(pred, label) == [2, 4, 1, 3]

    def test_hand_computed(self):
        metric = METRICS.build(dict(type='FewShotIoUMetric'))
        metric.dataset_meta = dict(classes=('background', 'cat', 'dog'))
        episodes = [
            # class 1: fg I=1, U=2 ; bg I=2, U=3
            _sample([[1, 1], [0, 0]], [[1, 0], [0, 0]], 1),
            # class 1: fg I=2, U=2 ; bg I=1, U=1 (one ignored pixel)
            _sample([[1, 1], [0, 1]], [[1, 1], [0, 255]], 1),
            # class 2: fg I=0, U=2 ; bg I=2, U=4
            _sample([[1, 0], [0, 0]], [[0, 1], [0, 0]], 2),
        ]
        metric.process({}, episodes)
        out = metric.evaluate(3)
        # per class accumulated: cat (1+2)/(2+2) = 75, dog 0/2 = 0 -> mIoU 37.5
        assert out['IoU.cat'] == 75.0 and out['IoU.dog'] == 0.0
        assert out['mIoU'] == 37.5
        # accumulated over all episodes: fg 3/6 = 0.5, bg 5/8 = 0.625 -> FB-IoU 56.25
        assert out['fg-IoU'] == 50.0 and out['bg-IoU'] == 62.5
        assert out['FB-IoU'] == 56.25
        assert out['episodes'] == 3

    def test_accumulation_differs_from_episode_mean(self):
        """IoU is sum(I)/sum(U) per class, not the mean of episode IoUs."""
        metric = METRICS.build(dict(type='FewShotIoUMetric'))
        big = [[1] * 4] * 4  # I = U = 16 -> IoU 1
        small_pred = [[0] * 4] * 4
        small_label = [[1, 0, 0, 0]] + [[0] * 4] * 3  # I = 0, U = 1 -> IoU 0
        metric.process({}, [_sample(big, big, 1), _sample(small_pred, small_label, 1)])
        out = metric.evaluate(2)
        assert out['mIoU'] == round(16 / 17 * 100, 2)  # not 50.0

    def test_unsampled_class_counts_as_zero_or_raises(self):
        """A class with no episode is IoU 0 (PFENet's and HSNet's meters), with a warning."""
        meta = dict(classes=('background', 'a', 'b', 'c', 'd', 'e'), eval_classes=[1, 2, 3, 4, 5])
        episodes = [_sample([[1, 1], [0, 0]], [[1, 0], [0, 0]], c) for c in (1, 2, 3, 4)]
        metric = METRICS.build(dict(type='FewShotIoUMetric'))
        metric.dataset_meta = meta
        metric.process({}, episodes)
        out = metric.evaluate(4)
        # four classes at 50, the unsampled 'e' at 0: 40, not the 50 of the sampled ones
        assert out['IoU.e'] == 0.0 and out['mIoU'] == 40.0
        strict = METRICS.build(dict(type='FewShotIoUMetric', unsampled_classes='error'))
        strict.dataset_meta = meta
        strict.process({}, episodes)
        with pytest.raises(ValueError, match=r'1 evaluated class\(es\) got no episode: e'):
            strict.evaluate(4)
        with pytest.raises(ValueError, match="unsampled_classes must be 'zero' or 'error'"):
            METRICS.build(dict(type='FewShotIoUMetric', unsampled_classes='skip'))

    def test_size_mismatch_names_file(self):
        metric = METRICS.build(dict(type='FewShotIoUMetric'))
        with pytest.raises(ValueError, match='q1.jpg'):
            metric.process({}, [_sample([[1, 1]], [[1], [1]], 1)])
        with pytest.raises(KeyError, match='gt_sem_seg'):
            metric.process({}, [dict(pred_sem_seg=dict(data=torch.zeros(1, 2, 2)),
                                     class_id=1)])


def test_output_dir_and_format_only(tmp_path):
    import numpy as np
    from PIL import Image
    metric = METRICS.build(dict(type='FewShotIoUMetric', output_dir=str(tmp_path / 'preds'),
                                keep_results=True))
    sample = _sample([[1, 0], [0, 1]], [[1, 0], [0, 0]], 4)
    sample.update(episode_index=12, img_path='/x/q_007.jpg')
    metric.process({}, [sample])
    written = tmp_path / 'preds' / '000012_q_007_c4.png'
    np.testing.assert_array_equal(np.asarray(Image.open(written)), [[1, 0], [0, 1]])
    assert sorted(p.name for p in (tmp_path / 'preds').iterdir()) == [written.name]
    assert metric.evaluate(1)['mIoU'] == 50.0
    only = METRICS.build(dict(type='FewShotIoUMetric', output_dir=str(tmp_path / 'o'),
                              format_only=True))
    only.process({}, [sample])
    assert only.evaluate(1) == {}
    with pytest.raises(ValueError, match='needs an output_dir'):
        METRICS.build(dict(type='FewShotIoUMetric', format_only=True))
