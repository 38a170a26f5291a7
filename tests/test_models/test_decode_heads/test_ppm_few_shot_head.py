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
