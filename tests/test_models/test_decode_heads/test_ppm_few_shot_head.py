import pytest
import torch
from mmengine.structures import PixelData
from mmseg.models.decode_heads.psp_head import PPM
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmfss.models import EpisodeFeatures


def _head(**kw):
    cfg = dict(type='PPMFewShotHead', in_channels=[4, 6], in_index=[0, 1], channels=8,
               pool_scales=(1, 2), prior_keys=('prior', ), num_classes=2)
    cfg.update(kw)
    return MODELS.build(cfg)


def _feats(b=2, k=3, priors=('prior', )):
    return EpisodeFeatures(
        query_feats=[torch.randn(b, 4, 8, 8), torch.randn(b, 6, 4, 4)],
        support_feats=[torch.randn(b, k, 4, 8, 8), torch.randn(b, k, 6, 4, 4)],
        support_masks=torch.randint(0, 2, (b, k, 32, 32)),
        query_inputs=torch.randn(b, 3, 32, 32),
        support_inputs=torch.randn(b, k, 3, 32, 32),
        priors={p: torch.rand(b, 1, 4, 4) for p in priors})


class TestPPMFewShotHead:

    def test_forward_shapes_and_modules(self):
        head = _head()
        assert isinstance(head.psp_modules, PPM)
        out = head(_feats())
        assert out.shape == (2, 2, 8, 8)
        assert _head(prior_keys=('a', 'b'))(_feats(priors=('a', 'b'))).shape == (2, 2, 8, 8)
        assert _head(prior_keys=())(_feats(priors=())).shape == (2, 2, 8, 8)

    def test_prototype_uses_only_the_support_foreground(self):
        head = _head().eval()
        feats = _feats(b=1, k=1)
        feats.support_masks[:] = 0
        feats.support_masks[..., :16, :] = 1
        out = head(feats)
        # changing background support features does not change the prediction
        feats.support_feats = [f.clone() for f in feats.support_feats]
        feats.support_feats[0][..., 6:, :] = 100.0
        feats.support_feats[1][..., 3:, :] = 100.0
        torch.testing.assert_close(head(feats), out)
        feats.support_feats[1][..., :1, :] = -100.0
        assert not torch.allclose(head(feats), out)

    def test_loss(self):
        head = _head()
        samples = []
        for _ in range(2):
            s = SegDataSample()
            s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, 32, 32)))
            samples.append(s)
        losses = head.loss(_feats(), samples, dict())
        assert set(losses) == {'loss_ce', 'acc_seg'}
        losses['loss_ce'].backward()
        assert head.conv_seg.weight.grad is not None

    def test_errors(self):
        with pytest.raises(KeyError, match="needs prior 'prior'"):
            _head()(_feats(priors=()))
        with pytest.raises(ValueError, match='num_classes must be 2'):
            _head(num_classes=3)

    def test_mask_refinement(self):
        torch.manual_seed(0)
        plain = _head().eval()
        refined = _head(refine_iters=2).eval()
        refined.load_state_dict(plain.state_dict(), strict=False)
        feats = _feats()
        x = None

        def keep_input(module, args, output):
            nonlocal x
            x = output

        refined.bottleneck.register_forward_hook(keep_input)
        out = refined(feats)
        # logits_0 = cls_seg(x); logits_t = cls_seg(x + R(concat(x, softmax(logits_{t-1}))))
        logits = refined.cls_seg(x)
        torch.testing.assert_close(logits, plain(feats))
        for _ in range(2):
            logits = refined.cls_seg(x + refined.refine(torch.cat([x, logits.softmax(1)], 1)))
        torch.testing.assert_close(out, logits)
        assert not torch.allclose(out, plain(feats))
        refined.train()
        refined(feats).sum().backward()
        assert all(p.grad is not None for p in refined.refine.parameters())
        with pytest.raises(ValueError, match='refine_iters'):
            _head(refine_iters=-1)


@pytest.mark.parametrize('training', [False, True])
def test_mask_refinement_convolves_the_features_once(training, monkeypatch):
    # R's first conv splits into the features' part (once) and the probabilities' part (per
    # iteration); the logits and gradients equal the concatenated conv's
    def run():
        torch.manual_seed(0)
        head = _head(refine_iters=3, dropout_ratio=0.0).train(training)
        calls = []
        conv = head.refine[0].conv
        hook = conv.register_forward_hook(lambda m, a, o: calls.append(a[0].shape[1]))
        logits = head(_feats())
        hook.remove()
        logits.square().mean().backward()
        return logits, {n: p.grad for n, p in head.named_parameters() if p.grad is not None}, calls

    split, split_grads, split_calls = run()
    assert split_calls == []  # the split path never runs the 10-channel conv module
    import mmfss.models.decode_heads.ppm_few_shot_head as module
    monkeypatch.setattr(module, 'splits_by_channels', lambda m: False)
    whole, whole_grads, whole_calls = run()
    assert whole_calls == [8 + 2] * 3
    torch.testing.assert_close(split, whole, rtol=1e-5, atol=1e-5)
    assert split_grads.keys() == whole_grads.keys()
    for name, grad in split_grads.items():
        torch.testing.assert_close(grad, whole_grads[name], rtol=1e-4, atol=1e-5, msg=name)


def _ppm_label(b):
    samples = []
    for _ in range(b):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, 4, 4)))
        samples.append(s)
    return samples


def test_single_episode_training_batch():
    """A one-episode training batch: the 1x1 pooling branch normalises with its running
    statistics (and leaves them as they were); the other layers train as usual.
    single_episode_norm='error' names the fix instead."""
    torch.manual_seed(0)
    head = _head(norm_cfg=dict(type='BN', requires_grad=True))
    head.train()
    pooled_bn = head.psp_modules[0][1].bn
    before = pooled_bn.running_mean.clone()
    other = head.psp_modules[1][1].bn.running_mean.clone()
    losses = head.loss(_feats(b=1, k=1), _ppm_label(1), {})
    losses['loss_ce'].backward()
    assert torch.isfinite(losses['loss_ce'])
    torch.testing.assert_close(pooled_bn.running_mean, before)  # not updated
    assert not torch.equal(head.psp_modules[1][1].bn.running_mean, other)  # 2x2: updated
    assert pooled_bn.training and head.psp_modules[0][1].bn.weight.grad is not None
    # the branch equals its evaluation-mode output on that episode
    feats = _feats(b=1, k=1)
    x = torch.randn(1, 8, 4, 4)
    train_out = head.pyramid(x)[0]
    head.eval()
    torch.testing.assert_close(train_out, head.pyramid(x)[0])
    strict = _head(norm_cfg=dict(type='BN', requires_grad=True), single_episode_norm='error')
    strict.train()
    with pytest.raises(ValueError, match='drop_last=True'):
        strict(feats)
    strict(_feats(b=2, k=1))  # two episodes: batch statistics, no error
    with pytest.raises(ValueError, match='single_episode_norm'):
        _head(single_episode_norm='skip')


def test_losses_equal_mmseg_without_host_syncs():
    """decode_losses equals mmseg's loss_by_feat (its .item() count and boolean-indexed
    accuracy; the loss to the last bit, the accuracy to 1 ulp), with no host
    synchronisation."""
    from mmseg.models.decode_heads.decode_head import BaseDecodeHead
    from mmfss.testing import HostSyncCounter
    torch.manual_seed(0)
    head = _head(loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True))
    logits = torch.randn(2, 2, 4, 4)
    samples = _ppm_label(2)
    samples[0].gt_sem_seg.data[0, :2] = 255
    ours_syncs = HostSyncCounter()
    with ours_syncs:
        ours = head.loss_by_feat(logits, samples)
    with HostSyncCounter() as their_syncs:
        theirs = BaseDecodeHead.loss_by_feat(head, logits, samples)
    assert ours_syncs.total == 0
    assert their_syncs.counts['item'] >= 1 and their_syncs.counts['nonzero'] >= 1
    assert set(ours) == set(theirs)
    torch.testing.assert_close(ours['loss_ce'], theirs['loss_ce'], rtol=0, atol=0)
    # the accuracy's percentage factor is rounded once in float32 here, in double there
    torch.testing.assert_close(ours['acc_seg'], theirs['acc_seg'], rtol=1e-6, atol=0)
