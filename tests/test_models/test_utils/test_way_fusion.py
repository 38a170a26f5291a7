import math

import pytest
import torch

from mmfss.models.utils import fuse_ways


def _log_probs(p):
    """[B, N, H, W] foreground probabilities -> [B, N, 2, H, W] log-probabilities."""
    return torch.stack([torch.log1p(-p), torch.log(p)], dim=2)


def test_fusion_on_a_constructed_case():
    # 3 ways, 4 pixels: [clear way 1, nothing, weak way 1, ways 1 and 3 compete]
    p = torch.tensor([[0.9, 0.1, 0.45, 0.7],
                      [0.2, 0.2, 0.10, 0.1],
                      [0.1, 0.3, 0.10, 0.8]]).view(1, 3, 1, 4)
    scores = fuse_ways(_log_probs(p), 'mean')
    # iFSL: background = mean_n log(1 - p_n), i.e. the geometric mean of 1 - p_n:
    # [0.416, 0.796, 0.764, 0.378] against the best classes [0.9, 0.3, 0.45, 0.8]
    torch.testing.assert_close(scores[0, 0, 0], torch.log1p(-p[0, :, 0]).mean(0))
    torch.testing.assert_close(scores[:, 1:], torch.log(p))
    assert scores.argmax(1).flatten().tolist() == [1, 0, 0, 3]
    thr = fuse_ways(_log_probs(p), 'threshold', 0.5)
    assert thr.argmax(1).flatten().tolist() == [1, 0, 0, 3]
    assert torch.allclose(thr[:, 0], torch.full((1, 1, 4), math.log(0.5)))
    low = fuse_ways(_log_probs(p), 'threshold', 0.4).argmax(1).flatten().tolist()
    assert low == [1, 0, 1, 3]  # 0.45 > 0.4 now wins for way 1


def test_mean_rule_is_not_the_arithmetic_mean():
    # p = (0.65, 0): the arithmetic mean of 1 - p, 0.675, would beat 0.65 (background);
    # the geometric mean sqrt(0.35 * 1) = 0.592 does not: way 1
    p = torch.tensor([[0.65], [1e-6]]).view(1, 2, 1, 1)
    assert fuse_ways(_log_probs(p), 'mean').argmax(1).item() == 1


@pytest.mark.parametrize('rule', ['mean', 'threshold'])
def test_one_way_is_the_binary_decision(rule):
    logits = torch.randn(2, 1, 2, 5, 7)
    logits[0, 0, :, 0, 0] = 0.3  # a tie goes to the background
    labels = fuse_ways(logits.log_softmax(2), rule).argmax(1)
    assert torch.equal(labels, logits[:, 0].argmax(1))


def test_errors():
    with pytest.raises(ValueError, match='background_rule'):
        fuse_ways(torch.rand(1, 2, 2, 3, 3), 'max')
    with pytest.raises(ValueError, match='threshold'):
        fuse_ways(torch.rand(1, 2, 2, 3, 3), 'threshold', 1.5)
    with pytest.raises(ValueError, match=r'\[B, N, 2, H, W\]'):
        fuse_ways(torch.rand(2, 3, 3, 3))
