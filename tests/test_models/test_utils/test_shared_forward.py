import torch

from mmfss.models.utils import shared_forward


def test_batch_norm_statistics_match_between_train_and_eval():
    """Query and support features with different distributions: normalised together, the
    query output in evaluation (running statistics) equals the training output."""
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(3, momentum=1.0)  # running statistics = last batch
    query = torch.randn(2, 3, 4, 4)
    support = 5 + 3 * torch.randn(4, 3, 4, 4)
    q_train, s_train = shared_forward(bn, query, support)
    bn.eval()
    q_eval, s_eval = shared_forward(bn, query, support)
    # (up to the unbiased running variance: a factor sqrt(96 / 95) here)
    torch.testing.assert_close(q_eval, q_train, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(s_eval, s_train, rtol=1e-2, atol=1e-2)
    # two separate calls do not have this property
    bn.train()
    q_alone = bn(query)
    bn(support)
    bn.eval()
    assert not torch.allclose(bn(query), q_alone, atol=1e-1)


def test_different_shapes_fall_back_to_two_calls():
    conv = torch.nn.Conv2d(3, 2, 1)
    q, s = shared_forward(conv, torch.randn(1, 3, 4, 4), torch.randn(2, 3, 5, 5))
    assert q.shape == (1, 2, 4, 4) and s.shape == (2, 2, 5, 5)
