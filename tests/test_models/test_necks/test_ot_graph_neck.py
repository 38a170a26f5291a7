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
        assert not any(k.endswith('_proto') for k in feats.extras)  # nothing left unused
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
        # the query-object distribution (CLIP prior masses, floored): still both domains agree
        q_mass = torch.rand(2, 30, dtype=torch.float64).clamp_min(1e-3)
        uniform = kernel.transport(query, support, obj, bg)
        for got, expected, plain in zip(kernel.transport(query, support, obj, bg,
                                                         query_mass=q_mass),
                                        log.transport(query, support, obj, bg,
                                                      query_mass=q_mass), uniform):
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(kernel.transport(query, support, obj, bg,
                                                   query_mass=q_mass)[0][0], uniform[0][0])
        # the masses' check reads the device (a host sync): a debug switch turns it on
        kernel.transport(query, support, obj, query_mass=torch.zeros(2, 30))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv('MMFSS_DEBUG_CHECKS', '1')
            with pytest.raises(ValueError, match='positive'):
                kernel.transport(query, support, obj, query_mass=torch.zeros(2, 30))
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
        plain = _neck(query_prior_key=None, support_bg_prior_key=None, query_mass='uniform',
                      sqa_query_object=False).eval()
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
        kw = dict(disentangle=False, support_bg_prior_key=None, loss_contrast=None,
                  query_prior_key=None) if not disentangle else dict(support_bg_prior_key=None)
        torch.manual_seed(1)
        neck = _neck(**kw).eval()
        for flip in (False, True):
            f = _feats(train=False)
            if flip:
                f.support_masks = 1 - f.support_masks
            with torch.no_grad():
                outs[disentangle, flip] = neck(f).query_feats[-1]
    torch.testing.assert_close(outs[False, False], outs[False, True])
    assert not torch.allclose(outs[True, False], outs[True, True])
    layer = DualBranchGraphLayer(16, 8, use_sqa=False, compile=False)
    q, s = torch.randn(2, 16, 9), torch.randn(2, 16, 10)
    _, _, messages = layer(q, s, torch.ones(2, 10), None)
    assert set(messages) == {'support_obj'}
    with pytest.raises(ValueError, match='disentangle=False'):
        _neck(disentangle=False, support_bg_prior_key=None)  # the default contrastive loss


class TestDisentanglement:
    """Both sides: the support split by its mask (ignore pixels neither object nor
    background), the query weighed by its CLIP prior in the OT and SQA branches."""

    def test_ignore_pixels_are_not_background(self):
        from mmfss.models.necks import OTGraphNeck
        masks = torch.zeros(1, 8, 8, dtype=torch.long)
        masks[0, :4] = 1
        masks[0, :, 6:] = 255
        obj, bg = OTGraphNeck.object_and_background_weights(masks, (8, 8))
        assert (obj[0, 0, :4, :6] == 1).all() and (bg[0, 0, 4:, :6] == 1).all()
        assert (obj[0, 0, :, 6:] == 0).all() and (bg[0, 0, :, 6:] == 0).all()
        assert ((obj + bg) <= 1).all()
        # in the neck: relabelling the ignore region as background changes the result
        neck = _neck(support_bg_prior_key=None).eval()
        f1, f2 = _feats(train=False), _feats(train=False)
        f1.support_masks[..., :, 30:] = 255
        f2.support_masks[..., :, 30:] = 0
        f2.support_masks[f1.support_masks == 1] = 1
        with torch.no_grad():
            assert not torch.allclose(neck(f1).query_feats[-1], neck(f2).query_feats[-1])

    @pytest.mark.parametrize('branches', [dict(use_sqa=False), dict(use_ot=False)])
    def test_query_prior_reaches_each_branch(self, branches):
        """The query's CLIP prior changes the refined query through the OT branch (query
        masses) and through the SQA branch (F_obj^Q key); with neither option it does not."""
        outs = {}
        for name, kw in (('on', dict()), ('off', dict(query_mass='uniform',
                                                     sqa_query_object=False))):
            torch.manual_seed(2)
            neck = _neck(**branches, **kw).eval()
            for variant in range(2):
                f = _feats(train=False)
                if variant:
                    f.priors['clip_fg'] = torch.rand(2, 1, 6, 6)
                with torch.no_grad():
                    outs[name, variant] = neck(f).query_feats[-1]
        assert not torch.allclose(outs['on', 0], outs['on', 1], atol=1e-5)
        torch.testing.assert_close(outs['off', 0], outs['off', 1])

    def test_sqa_attends_to_support_object_nodes(self):
        """sqa_keys='object': support-background nodes are not SQA keys; 'all': they are."""
        outs = {}
        for keys in ('object', 'all'):
            torch.manual_seed(3)
            neck = _neck(use_ot=False, sqa_keys=keys, support_bg_prior_key=None,
                         loss_contrast=None, loss_support=None).eval()
            for variant in range(2):
                f = _feats(train=False)
                f.support_masks = torch.zeros(2, 2, 40, 40, dtype=torch.long)
                f.support_masks[..., :16, :16] = 1  # object on the first 2x2 nodes of 5x5
                if variant:  # change the features of the nodes far from the object
                    for level in f.support_feats:
                        level[..., 3:, 3:] += 5 * torch.randn_like(level[..., 3:, 3:])
                with torch.no_grad():
                    outs[keys, variant] = neck(f).query_feats[-1]
        torch.testing.assert_close(outs['object', 0], outs['object', 1])
        assert not torch.allclose(outs['all', 0], outs['all', 1], atol=1e-5)

    def test_query_ground_truth_only_reaches_the_losses(self):
        neck = _neck()
        neck.train()
        f1, f2 = _feats(), _feats()
        f2.query_masks = 1 - f2.query_masks
        out1, out2 = neck(f1), neck(f2)
        torch.testing.assert_close(out1.query_feats[-1], out2.query_feats[-1])
        assert not torch.allclose(out1.aux_losses['loss_gcl'], out2.aux_losses['loss_gcl'])

    def test_option_errors(self):
        with pytest.raises(ValueError, match='query_mass must be'):
            _neck(query_mass='mask')
        with pytest.raises(ValueError, match='sqa_keys must be'):
            _neck(sqa_keys='background')
        with pytest.raises(ValueError, match='need query_prior_key'):
            _neck(query_prior_key=None)
        _neck(query_prior_key=None, query_mass='uniform', sqa_query_object=False)


@pytest.mark.parametrize('domain', ['log', 'kernel'])
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_messages_under_autocast_are_computed_in_float32(domain, dtype):
    """Paper-size node sets (60x60 query nodes): a plan entry is ~1e-7, below fp16's
    smallest normal number; costs, plans and messages stay float32 under autocast."""
    torch.manual_seed(0)
    layer = DualBranchGraphLayer(16, 8, eps=0.1, num_iters=3, ot_domain=domain,
                                 compile=False)
    query, support = torch.randn(1, 16, 3600), torch.randn(1, 16, 900)
    obj = (torch.rand(1, 900) > 0.7).float()
    fp32 = layer.transport(query, support, obj, 1 - obj)
    with torch.autocast('cpu', dtype=dtype):
        low = layer.transport(query.to(dtype), support.to(dtype), obj, 1 - obj)
    for a, b in zip(fp32, low):
        assert b.dtype == dtype and torch.isfinite(b).all()
        rel = (b.float() - a).norm() / a.norm()
        assert rel < (0.01 if dtype == torch.float16 else 0.03), rel
