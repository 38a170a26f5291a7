import pytest
import torch
from mmseg.registry import MODELS

from mmfss.models import EpisodeFeatures
from mmfss.models.necks import DualBranchGraphLayer, squared_euclidean_cost


def _feats(b=2, k=2, train=True):
    torch.manual_seed(0)
    f = EpisodeFeatures(
        query_feats=[torch.randn(b, 8, 6, 6), torch.randn(b, 12, 3, 3)],
        support_feats=[torch.randn(b, k, 8, 5, 5), torch.randn(b, k, 12, 5, 5)],
        support_masks=torch.randint(0, 2, (b, k, 40, 40)),
        query_inputs=torch.randn(b, 3, 48, 48), support_inputs=torch.randn(b, k, 3, 40, 40),
        query_masks=torch.randint(0, 2, (b, 48, 48)) if train else None)
    f.priors['clip_fg'] = torch.rand(b, 1, 6, 6)
    f.extras['support_clip_bg'] = torch.rand(b, k, 1, 5, 5)
    return f


def _neck(**kw):
    cfg = dict(type='OTGraphNeck', in_channels=[8, 12], in_index=[0, 1], channels=16,
               attn_channels=8, compile=False)
    cfg.update(kw)
    return MODELS.build(cfg)


class TestOTGraphNeck:

    def test_cost(self):
        q = torch.tensor([[[0.0, 1.0], [0.0, 2.0]]])  # nodes (0, 0), (1, 2)
        s = torch.tensor([[[3.0], [4.0]]])  # node (3, 4)
        torch.testing.assert_close(squared_euclidean_cost(q, s), torch.tensor([[[25.0], [8.0]]]))
        qn = torch.nn.functional.normalize(torch.randn(2, 8, 5), dim=1)
        sn = torch.nn.functional.normalize(torch.randn(2, 8, 7), dim=1)
        torch.testing.assert_close(squared_euclidean_cost(qn, sn, unit_norm=True),
                                   squared_euclidean_cost(qn, sn), atol=1e-5, rtol=0)

    @pytest.mark.parametrize('branches', [dict(), dict(use_ot=False), dict(use_sqa=False)])
    def test_shapes_losses_and_gradients(self, branches):
        neck = _neck(**branches)
        neck.train()
        feats = neck(_feats())
        assert feats.query_feats[-1].shape == (2, 16, 6, 6)
        assert feats.support_feats[-1].shape == (2, 2, 16, 5, 5)
        assert set(feats.aux_losses) == {'loss_gcl', 'loss_support'}
        assert feats.extras['support_obj_proto'].shape == (2, 20)
        assert feats.extras['query_obj_proto'].shape == (2, 20)
        total = sum(feats.aux_losses.values()) + feats.query_feats[-1].square().mean()
        total.backward()
        for name, p in neck.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
        layer = neck.layers[0]
        assert hasattr(layer, 'gates') == branches.get('use_ot', True)
        assert hasattr(layer, 'sqa') == branches.get('use_sqa', True)

    def test_no_losses_in_eval_and_no_branch_error(self):
        neck = _neck().eval()
        with torch.no_grad():
            feats = neck(_feats(train=False))
        assert feats.aux_losses == {}
        with pytest.raises(ValueError, match='at least one'):
            _neck(use_ot=False, use_sqa=False)

    def test_ot_messages_follow_the_support_object(self):
        """A query node equal to a support-object node receives (nearly) that node as its
        object message, whatever the background nodes are."""
        torch.manual_seed(0)
        layer = DualBranchGraphLayer(4, 4, eps=0.01, num_iters=50, compile=False)
        support = torch.eye(4)[None] * 3  # nodes e0..e3 (scaled)
        obj_mass = torch.tensor([[1.0, 1.0, 0.0, 0.0]])  # e0, e1 are the object
        query = torch.stack([support[0, :, 0], support[0, :, 1]], dim=1)[None]  # e0, e1
        m_obj, m_empty = layer.transport(query, support, obj_mass, torch.zeros(1, 4))
        torch.testing.assert_close(m_obj, query, atol=1e-3, rtol=0)
        assert (m_empty == 0).all()  # an empty support mask sends no message
        # batching the problems changes nothing
        torch.testing.assert_close(layer.transport(query, support, obj_mass)[0], m_obj)

    def test_kernel_and_log_domain_messages_agree(self):
        torch.manual_seed(0)
        query, support = torch.randn(2, 8, 30, dtype=torch.float64), torch.randn(
            2, 8, 24, dtype=torch.float64)
        obj = (torch.rand(2, 24) > 0.5).double()
        obj[1] = 0  # an empty support mask: zero message
        bg = 1 - obj
        kernel = DualBranchGraphLayer(8, 4, eps=0.1, num_iters=3, ot_domain='auto')
        log = DualBranchGraphLayer(8, 4, eps=0.1, num_iters=3, ot_domain='log', compile=False)
        assert kernel.use_kernel and not log.use_kernel
        for got, expected in zip(kernel.transport(query, support, obj, bg),
                                 log.transport(query, support, obj, bg)):
            # (the log path keeps its uniform query masses in float32)
            torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
        assert (kernel.transport(query, support, obj)[0][1] == 0).all()
        # gradients reach the nodes through the kernel iterations
        q = query.clone().requires_grad_()
        sum(m.sum() for m in kernel.transport(q, support, obj, bg)).backward()
        assert torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0
        # auto falls back to the log domain where the kernel could underflow
        assert not DualBranchGraphLayer(8, 4, eps=0.01).use_kernel
        assert not DualBranchGraphLayer(8, 4, normalize_nodes=False).use_kernel
        with pytest.raises(ValueError, match='normalize_nodes=True and eps >= 0.05'):
            DualBranchGraphLayer(8, 4, eps=0.01, ot_domain='kernel')
        with pytest.raises(ValueError, match='ot_domain must be'):
            DualBranchGraphLayer(8, 4, ot_domain='exp')

    def test_k_shots_pooled_and_missing_prior(self):
        neck = _neck().eval()
        feats = _feats(k=3)
        feats.support_masks[:] = 0
        with torch.no_grad():
            out = neck(feats)  # empty support masks everywhere: finite
        assert torch.isfinite(out.query_feats[-1]).all()
        bare = _feats()
        del bare.extras['support_clip_bg']
        with pytest.raises(KeyError, match="support_clip_bg"):
            _neck()(bare)
        plain = _neck(query_prior_key=None, support_bg_prior_key=None).eval()
        f = _feats()
        f.priors.clear()
        f.extras.clear()
        with torch.no_grad():
            assert plain(f).query_feats[-1].shape == (2, 16, 6, 6)


def test_no_disentanglement_transports_the_whole_support():
    """disentangle=False (supplement Table 1, "No BG Prompt"): one uniform distribution over
    every support node, so the refined query does not depend on the support mask, while the
    disentangled neck's does; no background message or prototype; the contrastive loss
    (object vs background) must be off."""
    outs = {}
    for disentangle in (False, True):
        kw = dict(disentangle=False, support_bg_prior_key=None, loss_contrast=None) \
            if not disentangle else dict(support_bg_prior_key=None)
        torch.manual_seed(1)
        neck = _neck(**kw).eval()
        for flip in (False, True):
            f = _feats(train=False)
            if flip:
                f.support_masks = 1 - f.support_masks
            with torch.no_grad():
                outs[disentangle, flip] = neck(f).query_feats[-1]
        assert ('support_bg_proto' in f.extras) == disentangle
    torch.testing.assert_close(outs[False, False], outs[False, True])
    assert not torch.allclose(outs[True, False], outs[True, True])
    layer = DualBranchGraphLayer(16, 8, use_sqa=False, compile=False)
    q, s = torch.randn(2, 16, 9), torch.randn(2, 16, 10)
    _, _, messages = layer(q, s, torch.ones(2, 10), None)
    assert set(messages) == {'support_obj'}
    with pytest.raises(ValueError, match='disentangle=False'):
        _neck(disentangle=False, support_bg_prior_key=None)  # the default contrastive loss
