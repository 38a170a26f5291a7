import pytest
import torch
from mmseg.registry import MODELS

from mmfss.models import EpisodeFeatures
from mmfss.models.necks import prior_mask


def _feats(query, support, masks):
    b, k = support.shape[:2]
    return EpisodeFeatures(query_feats=[query], support_feats=[support], support_masks=masks,
                           query_inputs=torch.zeros(b, 3, 4, 4),
                           support_inputs=torch.zeros(b, k, 3, 4, 4))


class TestPriorMask:

    def test_hand_case(self):
        # Support: 2x2 grid, foreground only at (0, 0) with feature e0; background has e1.
        e0, e1, e2 = torch.eye(3)
        support = torch.stack([e0, e1, e1, e1], dim=1).view(1, 1, 3, 2, 2)
        masks = torch.tensor([[[[1, 0], [0, 0]]]])
        # Query positions: e0 (cos 1), e1 (matches background only -> 0), e0+e2
        # (cos 1/sqrt 2) and 2*e2 - e0 (cos -1/sqrt 5 to the foreground, but the zeroed
        # background positions give cos 0, so the max is 0, as in PFENet).
        query = torch.stack([e0, e1, e0 + e2, 2 * e2 - e0], dim=1).view(1, 3, 2, 2)
        prior = prior_mask(query, support, masks)
        raw = torch.tensor([1.0, 0.0, 2**-0.5, 0.0])
        expected = (raw - raw.min()) / (raw.max() - raw.min())
        assert prior.shape == (1, 1, 2, 2)
        torch.testing.assert_close(prior.flatten(), expected, atol=1e-5, rtol=0)

    def test_shots_are_averaged(self):
        torch.manual_seed(0)
        query = torch.randn(2, 8, 5, 5)
        support = torch.randn(2, 3, 8, 4, 4)
        masks = (torch.rand(2, 3, 16, 16) > 0.5).long()
        prior = prior_mask(query, support, masks)
        singles = [prior_mask(query, support[:, i:i + 1], masks[:, i:i + 1]) for i in range(3)]
        torch.testing.assert_close(prior, torch.stack(singles).mean(0))
        assert prior.min() >= 0 and prior.max() <= 1

    def test_ignore_pixels_are_not_foreground(self):
        support = torch.ones(1, 1, 2, 2, 2)
        query = torch.randn(1, 2, 3, 3)
        all_ignore = torch.full((1, 1, 2, 2), 255)
        # no foreground: every similarity is 0, the prior is flat zero
        assert prior_mask(query, support, all_ignore).abs().max() == 0


class TestPriorMaskNeck:

    def test_neck_adds_prior_without_grad(self):
        neck = MODELS.build(dict(type='PriorMaskNeck', in_index=0, prior_key='p'))
        query = torch.randn(2, 4, 6, 6, requires_grad=True)
        support = torch.randn(2, 1, 4, 6, 6, requires_grad=True)
        feats = neck(_feats(query, support, torch.ones(2, 1, 24, 24, dtype=torch.long)))
        assert feats.priors['p'].shape == (2, 1, 6, 6)
        assert not feats.priors['p'].requires_grad
        with pytest.raises(KeyError, match='already exists'):
            neck(feats)

    def test_neck_with_grad(self):
        neck = MODELS.build(dict(type='PriorMaskNeck', in_index=0, detach=False))
        query = torch.randn(1, 4, 3, 3, requires_grad=True)
        support = torch.randn(1, 2, 4, 3, 3)
        feats = neck(_feats(query, support, torch.ones(1, 2, 3, 3, dtype=torch.long)))
        feats.priors['prior'].sum().backward()
        assert query.grad is not None and query.grad.abs().sum() > 0
