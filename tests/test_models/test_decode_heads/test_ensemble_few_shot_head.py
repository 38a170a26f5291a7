import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmfss.models import EpisodeFeatures
from mmfss.models.decode_heads import gram_matrix, scene_difference


def _head(n_base=4, **kwargs):
    head = MODELS.build(dict(
        type='EnsembleFewShotHead',
        meta_head=dict(type='PPMFewShotHead', in_channels=[4, 6], in_index=[0, 1], channels=8,
                       pool_scales=(1, 2), prior_keys=kwargs.pop('prior_keys', ())),
        base_learner=dict(type='PSPHead', in_channels=6, in_index=1, channels=8,
                          pool_scales=(1, 2), num_classes=n_base + 1),
        gram_index=0, **kwargs))
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
        torch.testing.assert_close(same, torch.zeros(2, 2))
        diff = scene_difference(x, torch.randn(2, 1, 3, 4, 5))
        assert (diff > 0).all()
        expected = (gram_matrix(x) - gram_matrix(x.flip(0))).flatten(1).norm(dim=1) / 3
        torch.testing.assert_close(scene_difference(x, x.flip(0)[:, None])[:, 0], expected)

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


def _bam_kshot_statement(query_low, support_low, shot_priors, kshot_rw):
    """My statement of BAM's K-shot reweighting (BAM model/BAM.py, forward: "K-Shot
    Reweighting", "Prior Similarity Mask", "Support Prototype"), shot by shot: Gram
    matrices by bmm of the flattened features over the bmm of their norms (+ 1e-7);
    est_k = ||G_q - G_s_k||_F / ||ones||_F as [bs, shot, 1, 1]; sort ascending, rank by a
    second sort, kshot_rw on the sorted values, gather back, softmax over shots;
    est = sum w est_k; prior = sum w prior_k. Returns (weights [B, K], est [B],
    prior [B, 1, h, w])."""
    def gram(fea):
        b, c, h, w = fea.shape
        fea = fea.reshape(b, c, h * w)
        fea_t = fea.permute(0, 2, 1)
        return torch.bmm(fea, fea_t) / (torch.bmm(fea.norm(2, 2, True),
                                                  fea_t.norm(2, 1, True)) + 1e-7)

    bs, shot = support_low.shape[:2]
    que_gram = gram(query_low)
    norm_max = torch.ones_like(que_gram).norm(dim=(1, 2))
    est = torch.cat([((que_gram - gram(support_low[:, i])).norm(dim=(1, 2)) / norm_max)
                     .reshape(bs, 1, 1, 1) for i in range(shot)], 1)
    val1, idx1 = est.sort(1)
    _, idx2 = idx1.sort(1)
    weight = torch.softmax(kshot_rw(val1).gather(1, idx2), 1)
    prior = (weight * shot_priors).sum(1, True)
    return weight[:, :, 0, 0], (weight * est).sum(1)[:, 0, 0], prior


def test_kshot_reweighting_equals_bam_statement():
    """K = 5: shot weights, weighted scene difference and weighted prior equal the
    statement above (1e-6), the meta head's prototype is the weighted one, and the learned
    kshot_rw (BAM's default width 2) gets a gradient."""
    torch.manual_seed(0)
    head = _head(shot=5, prior_keys=('prior', ))
    assert isinstance(head.kshot_rw, torch.nn.Sequential)
    feats = _feats(b=2, k=5)
    shot_priors = torch.rand(2, 5, 8, 8)
    feats.shot_priors['prior'] = shot_priors
    feats.priors['prior'] = shot_priors.mean(1, keepdim=True)  # what the prior neck left
    weights, est, prior = _bam_kshot_statement(feats.query_feats[0], feats.support_feats[0],
                                               shot_priors, head.kshot_rw)
    assert not torch.allclose(weights, torch.full_like(weights, 0.2))  # not the mean
    psi = head._reweight_shots(feats)
    assert (feats.shot_weights - weights).abs().max() <= 1e-6
    assert (psi - est).abs().max() <= 1e-6
    assert (feats.priors['prior'] - prior).abs().max() <= 1e-6
    # the prototype: with all weight on shot j the meta head sees shot j alone
    meta = head.meta_head
    meta.eval()
    for j in (0, 3):
        one_hot = torch.zeros(2, 5)
        one_hot[:, j] = 1
        feats.shot_weights = one_hot
        single = _feats(b=2, k=5)
        single.support_feats = [f[:, j:j + 1] for f in feats.support_feats]
        single.support_masks = feats.support_masks[:, j:j + 1]
        single.support_inputs = feats.support_inputs[:, j:j + 1]
        single.priors['prior'] = feats.priors['prior']
        torch.testing.assert_close(meta(feats), meta(single))
    head.train()
    feats = _feats(b=2, k=5)
    feats.shot_priors['prior'] = shot_priors
    feats.priors['prior'] = shot_priors.mean(1, keepdim=True)
    head(feats).sum().backward()
    last = head.kshot_rw[-1]  # its bias always gets a gradient (the ReLUs may be inactive)
    assert last.bias.grad is not None and last.bias.grad.abs().sum() > 0


def test_kshot_linear_variant_and_shot_check():
    head = _head(shot=3, kshot_trans_dim=0)
    assert isinstance(head.kshot_rw, torch.nn.Conv2d)
    torch.testing.assert_close(head.kshot_rw.weight, torch.full((3, 3, 1, 1), 1 / 3))
    # BAM's initial linear layer gives every shot the same logit: equal weights
    feats = _feats(b=2, k=3)
    head._reweight_shots(feats)
    torch.testing.assert_close(feats.shot_weights, torch.full((2, 3), 1 / 3))
    assert _head().kshot_rw is None
    with torch.no_grad(), pytest.raises(ValueError, match=r'shot=1\) got 3-shot episodes'):
        _head().eval()(_feats(b=2, k=3))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_gram_matrix_is_float32_under_autocast(dtype):
    """Paper-size layer2 features (60x60 nodes, RMS 5): in fp16 x x^T sums 3600 squares of
    ~25 and overflows 65504; the Gram matrix is computed in float32 instead."""
    torch.manual_seed(0)
    feat = (5 * torch.randn(1, 64, 60, 60)).to(dtype)
    assert torch.isinf(torch.bmm(feat.flatten(2), feat.flatten(2).transpose(1, 2))).any() \
        or dtype == torch.bfloat16
    with torch.autocast('cpu', dtype=dtype):
        g = gram_matrix(feat)
        psi = scene_difference(feat, feat[:, None])
    assert g.dtype == torch.float32 and torch.isfinite(g).all()
    torch.testing.assert_close(g, gram_matrix(feat.float()))
    assert psi.abs().max() < 1e-5


def test_hdmnets_kshot_gather_leaves_the_weights_sorted():
    """HDMNet's and PI-CLIP's gather (``idx1.gather(1, idx2)``, the identity) hands the i-th
    weight computed for the sorted differences to the i-th shot; BAM's restores each shot's
    own; with kshot_restore_order=False and reweight_priors=False the shot weights reach the
    scene difference only (the prior stays the plain mean)."""
    torch.manual_seed(0)
    feats = _feats(b=2, k=4)
    shot_priors = torch.rand(2, 4, 8, 8)
    feats.shot_priors['prior'] = shot_priors
    feats.priors['prior'] = shot_priors.mean(1, keepdim=True)
    hdm = _head(shot=4, prior_keys=('prior', ), kshot_restore_order=False,
                reweight_priors=False)
    bam = _head(shot=4, prior_keys=('prior', ))
    bam.kshot_rw.load_state_dict(hdm.kshot_rw.state_dict())
    psi = scene_difference(feats.query_feats[0], feats.support_feats[0])
    ordered, order = psi.sort(dim=1)
    logits = hdm.kshot_rw(ordered[:, :, None, None])[:, :, 0, 0]
    # HDMNet's own gather, stated
    idx1 = order[:, :, None, None]
    idx3 = idx1.gather(1, idx1.sort(1)[1])
    expected = logits[:, :, None, None].gather(1, idx3)[:, :, 0, 0].softmax(1)
    torch.testing.assert_close(hdm._reweight_shots(feats), (expected * psi).sum(1))
    assert feats.shot_weights is None
    torch.testing.assert_close(feats.priors['prior'], shot_priors.mean(1, keepdim=True))
    bam_psi = bam._reweight_shots(feats)
    assert not torch.allclose(bam_psi, (expected * psi).sum(1))  # the orders differ here
    restored = logits.gather(1, order.argsort(1)).softmax(1)
    torch.testing.assert_close(bam_psi, (restored * psi).sum(1))


def test_base_learner_level_applies_only_the_classifier():
    """base_learner_level: the base learner's logits from its bottleneck computed elsewhere
    (PSPLevelNeck) equal the whole base learner's."""
    from mmfss.models.necks import psp_bottleneck
    head = _head(base_learner_level=2)
    feats = _feats()
    head.eval()
    full = head.base_learner(list(feats.query_feats))
    feats.query_feats = feats.query_feats + [psp_bottleneck(head.base_learner,
                                                            feats.query_feats[1])]
    learner = head.base_learner
    torch.testing.assert_close(
        learner.cls_seg(learner.bottleneck.activate(feats.query_feats[2])), full)
    out = head(feats)
    head.base_learner_level = None
    feats.query_feats = feats.query_feats[:2]
    torch.testing.assert_close(out, head(feats))
