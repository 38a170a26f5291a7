import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmfss.models import EpisodeFeatures
from mmfss.models.decode_heads import gram_matrix, scene_difference


def _head(n_base=4):
    head = MODELS.build(dict(
        type='EnsembleFewShotHead',
        meta_head=dict(type='PPMFewShotHead', in_channels=[4, 6], in_index=[0, 1], channels=8,
                       pool_scales=(1, 2), prior_keys=()),
        base_learner=dict(type='PSPHead', in_channels=6, in_index=1, channels=8,
                          pool_scales=(1, 2), num_classes=n_base + 1),
        gram_index=0))
    head.init_weights()
    return head


def _feats(b=2, k=1, labels=(1, 3)):
    torch.manual_seed(0)
    return EpisodeFeatures(
        query_feats=[torch.randn(b, 4, 8, 8), torch.randn(b, 6, 8, 8)],
        support_feats=[torch.randn(b, k, 4, 8, 8), torch.randn(b, k, 6, 8, 8)],
        support_masks=torch.randint(0, 2, (b, k, 32, 32)),
        query_inputs=torch.randn(b, 3, 32, 32), support_inputs=torch.randn(b, k, 3, 32, 32),
        img_metas=[dict(base_label=label) for label in labels])


class TestEnsembleFewShotHead:

    def test_gram_and_scene_difference(self):
        x = torch.randn(2, 3, 4, 5)
        g = gram_matrix(x)
        torch.testing.assert_close(torch.diagonal(g, dim1=1, dim2=2), torch.ones(2, 3))
        cos = torch.nn.functional.cosine_similarity(x[0, 0].flatten(), x[0, 1].flatten(), 0)
        torch.testing.assert_close(g[0, 0, 1], cos)
        same = scene_difference(x, x[:, None].repeat(1, 2, 1, 1, 1))
        torch.testing.assert_close(same, torch.zeros(2))
        diff = scene_difference(x, torch.randn(2, 1, 3, 4, 5))
        assert (diff > 0).all()
        expected = (gram_matrix(x) - gram_matrix(x.flip(0))).flatten(1).norm(dim=1) / 3
        torch.testing.assert_close(scene_difference(x, x.flip(0)[:, None]), expected)

    def test_initially_the_meta_prediction(self):
        head = _head().eval()
        feats = _feats()
        out = head(feats)
        meta = head.meta_head(feats).softmax(dim=1)
        torch.testing.assert_close(out, meta)

    def test_base_map_leaves_out_the_episode_class_in_training(self):
        head = _head()
        head.cls_merge.weight.data[:] = torch.tensor([0.0, 1.0]).view(1, 2, 1, 1)  # bg = base
        feats = _feats(labels=(1, 0))
        with torch.no_grad():
            p_base = head.base_learner(feats.query_feats).softmax(dim=1)
            head.train()
            head.meta_head.eval()
            out = head(feats)
            head.eval()
            out_eval = head(feats)
        all_base = p_base[:, 1:].sum(1)
        torch.testing.assert_close(out_eval[:, 0], all_base)
        torch.testing.assert_close(out[0, 0], all_base[0] - p_base[0, 1])  # class 1 left out
        torch.testing.assert_close(out[1, 0], all_base[1])  # novel episode: nothing left out

    def test_loss_and_frozen_base_learner(self):
        head = _head()
        head.train()
        assert not head.base_learner.training
        samples = []
        for _ in range(2):
            s = SegDataSample()
            s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, 32, 32)))
            samples.append(s)
        losses = head.loss(_feats(), samples, dict())
        assert {'loss_ce', 'loss_meta', 'acc_seg'} <= set(losses)
        (losses['loss_ce'] + losses['loss_meta']).backward()
        assert all(p.grad is None for p in head.base_learner.parameters())
        assert head.gram_merge.weight.grad is not None
        assert head.cls_merge.weight.grad is not None
