import pytest
import torch
from mmseg.registry import MODELS

from mmfss.models import EpisodeFeatures
from mmfss.models.necks import cosine_cost


def _neck(**kw):
    cfg = dict(type='PartialOTMatchingNeck', in_index=-1, eps=0.05, num_iters=10,
               compile=False)
    cfg.update(kw)
    return MODELS.build(cfg)


def _masks(fg_rows, b=1, k=1, size=8):
    """Support masks [b, k, size, size] whose first ``fg_rows`` rows are foreground."""
    masks = torch.zeros(b, k, size, size, dtype=torch.long)
    masks[..., :fg_rows, :] = 1
    return masks


def _episode(fg_rows=2, b=1, k=1, c=16, seed=0):
    """Support nodes (4x4): foreground rows hold object features, the rest background ones;
    the query (4x4) shows the object in its left half and another background in its right
    half (so only the object matches at zero cost)."""
    g = torch.Generator().manual_seed(seed)
    obj, bg, bg2 = (torch.randn(c, generator=g) for _ in range(3))
    support = bg[:, None, None].repeat(1, 4, 4)
    support[:, :fg_rows] = obj[:, None, None]
    query = bg2[:, None, None].repeat(1, 4, 4)
    query[:, :, :2] = obj[:, None, None]
    noise = 0.05 * torch.randn(b, k, c, 4, 4, generator=g)
    return (query.expand(b, c, 4, 4).clone(), support.expand(b, k, c, 4, 4) + noise,
            _masks(2 * fg_rows, b, k))


def _feats(query, support, masks):
    b, k = support.shape[:2]
    return EpisodeFeatures(query_feats=[query], support_feats=[support], support_masks=masks,
                           query_inputs=torch.zeros(b, 3, 8, 8),
                           support_inputs=torch.zeros(b, k, 3, 8, 8))


class TestPartialOTMatchingNeck:

    def test_cosine_cost(self):
        s = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])  # nodes e0, 2 e1 (columns)
        q = torch.tensor([[[3.0, -1.0, 1.0], [0.0, 0.0, 1.0]]])
        expected = torch.tensor([[[0.0, 2.0, 1 - 2**-0.5], [1.0, 1.0, 1 - 2**-0.5]]])
        torch.testing.assert_close(cosine_cost(s, q), expected)

    @pytest.mark.parametrize('supply', ['object', 'uniform'])
    def test_matched_mass_equals_support_object_fraction(self, supply):
        query, support, masks = _episode(fg_rows=1)
        for scale in (1.0, 1.5, 0.5):
            neck = _neck(mass_scale=scale, num_iters=100, eps=0.1, supply=supply)
            out = neck.match(query, support, masks)
            # 4 of the 16 support nodes lie in the mask; the object supplies at most that
            m = scale * 4 / 16 if supply == 'uniform' else min(scale, 1.0) * 4 / 16
            torch.testing.assert_close(out['mass'], torch.tensor([m]))
            plan = out['plan']
            assert abs(float(plan.sum()) - m) < 1e-3
            assert (plan.sum(2) <= 1 / 16 + 1e-4).all() and (plan.sum(1) <= 1 / 16 + 1e-4).all()

    def test_larger_object_moves_more_mass(self):
        neck = _neck(num_iters=100)
        sums, priors = [], []
        for rows in (1, 2, 3):
            out = neck.match(*_episode(fg_rows=rows))
            sums.append(float(out['plan'].sum()))
            priors.append(float(out['prior'].sum()))
        assert sums[0] < sums[1] < sums[2]
        assert priors[0] < priors[1] < priors[2]

    def test_prior_finds_the_object(self):
        neck = _neck(num_iters=50)
        query, support, masks = _episode(fg_rows=2)  # M = 1/2 = the object's share of the query
        feats = neck(_feats(query, support, masks))
        prior = feats.priors['ot_prior']
        assert prior.shape == (1, 1, 4, 4) and (prior >= 0).all() and (prior <= 1 + 1e-4).all()
        assert prior[..., :2].min() > 0.9 and prior[..., 2:].max() < 0.1

    def test_full_and_partial_differ_only_in_transport(self):
        query, support, masks = _episode(fg_rows=2)
        # full transport supplies from every support node: compare with the partial
        # problem of the same supply
        partial = _neck(num_iters=100, eps=0.1, supply='uniform')
        full = _neck(transport='full', num_iters=100, eps=0.1)
        out_p, out_f = partial.match(query, support, masks), full.match(query, support, masks)
        torch.testing.assert_close(out_f['plan'].sum(), torch.tensor(1.0), atol=1e-4, rtol=0)
        assert abs(float(out_p['plan'].sum()) - 0.5) < 1e-3
        # full transport must serve every query node, so background nodes get object mass
        assert out_f['prior'][..., 2:].max() > out_p['prior'][..., 2:].max()
        # with the whole support inside the mask, M = 1 and partial OT is full OT
        whole = torch.ones_like(masks)
        torch.testing.assert_close(partial.match(query, support, whole)['plan'],
                                   full.match(query, support, whole)['plan'],
                                   atol=1e-4, rtol=0)  # entries ~ 1/256

    def test_shots_averaged_and_gradients(self):
        query, support, masks = _episode(fg_rows=2, b=2, k=3)
        query.requires_grad_(True)
        support = support.clone().requires_grad_(True)
        neck = _neck()
        prior = neck.match(query, support, masks)['prior']
        singles = [neck.match(query, support[:, i:i + 1], masks[:, i:i + 1])['prior']
                   for i in range(3)]
        torch.testing.assert_close(prior, torch.stack(singles).mean(0))
        (prior * torch.randn_like(prior)).sum().backward()
        for t in (query, support):
            assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0

    def test_empty_support_mask_is_finite(self):
        query, support, _ = _episode()
        out = _neck().match(query, support, torch.zeros(1, 1, 8, 8, dtype=torch.long))
        assert float(out['mass']) == 0 and (out['plan'] == 0).all()
        assert (out['prior'] == 0).all()

    def test_soft_mask_and_raw_flow(self):
        query, support, masks = _episode(fg_rows=2)
        raw = _neck(normalize='none', mask_threshold=None).match(query, support, masks)
        assert float(raw['prior'].sum()) <= float(raw['mass']) + 1e-4

    @pytest.mark.parametrize('kw, match', [
        (dict(transport='half'), 'transport must be'),
        (dict(normalize='max'), 'normalize must be'),
        (dict(mass_scale=0), 'mass_scale'),
    ])
    def test_bad_arguments(self, kw, match):
        with pytest.raises(ValueError, match=match):
            _neck(**kw)

    def test_duplicate_prior_key(self):
        feats = _feats(*_episode())
        feats.priors['ot_prior'] = torch.zeros(1, 1, 4, 4)
        with pytest.raises(KeyError, match='already exists'):
            _neck()(feats)


def _tight_background_episode(size=60, dim=256, seed=0):
    """Issue #16's case at a 473-crop grid (60x60 nodes, 256-d): support and query objects
    (30x30 blocks at different places) whose features scatter widely around one direction,
    on backgrounds tight around another, so background-to-background pairs are the
    cheapest."""
    g = torch.Generator().manual_seed(seed)
    obj, bg = torch.nn.functional.normalize(torch.randn(2, dim, generator=g), dim=1)
    nodes, masks = [], []
    for top, left in ((15, 15), (0, 30)):
        mask = torch.zeros(size, size, dtype=torch.long)
        mask[top:top + 30, left:left + 30] = 1
        noise = torch.randn(dim, size, size, generator=g) / dim**0.5
        nodes.append(torch.where(mask.bool(), obj[:, None, None] + noise,
                                 bg[:, None, None] + 0.1 * noise))
        masks.append(mask)
    return nodes[1][None], nodes[0][None, None], masks[0][None, None], masks[1]


@pytest.mark.parametrize('supply', ['uniform', 'object'])
def test_object_supply_keeps_the_prior_when_background_is_tighter(supply):
    """With a uniform supply, all of M flows background to background (almost nothing
    leaves the support object: the prior collapses to ~0 on the query object); with the
    object's supply (default) all of M leaves the object, lands on the query object, and
    the matched mass is M to 1% after the configs' 30 iterations, where the prior exceeds 1
    by at most 2% (README's OT mass table: 1.017)."""
    query, support, support_mask, query_mask = _tight_background_episode()
    neck = _neck(supply=supply, eps=0.05, num_iters=30)
    with torch.no_grad():
        out = neck.match(query, support, support_mask)
    plan, mass, node_mask = out['plan'][0], out['mass'][0], out['node_mask'][0]
    from_object = float((plan.sum(1) * node_mask).sum() / mass)
    prior = out['prior'].flatten()
    inside = query_mask.flatten().bool()
    if supply == 'uniform':
        assert from_object < 0.01 and float(prior[inside].mean()) < 0.01
    else:
        assert from_object == pytest.approx(1.0, abs=1e-6)
        assert abs(float(plan.sum()) - float(mass)) <= 0.01 * float(mass)
        assert float(prior[inside].mean()) > 0.9 and float(prior[~inside].mean()) < 0.05
        assert float(prior.max()) <= 1.0 + 0.02


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_cost_and_plan_in_float32_under_autocast(dtype):
    """CMNet's cosine cost is formed in float32 under autocast, so the prior equals the fp32
    one up to the rounding of the node features themselves."""
    query, support, masks = _episode(fg_rows=2, b=2, k=1)
    neck = _neck(num_iters=30)
    fp32 = neck.match(query, support, masks)
    with torch.autocast('cpu', dtype=dtype):
        cost = cosine_cost(support.flatten(0, 1).flatten(2).to(dtype),
                           query.flatten(2).to(dtype))
        low = neck.match(query.to(dtype), support.to(dtype), masks)
    assert cost.dtype == torch.float32 and low['plan'].dtype == torch.float32
    torch.testing.assert_close(low['prior'], fp32['prior'], rtol=0, atol=0.02)
    assert neck.ot_domain == 'kernel' and _neck(eps=0.01).ot_domain == 'log'


def _explicit_cell_prior(neck, query, support, masks, stride):
    """The matching of s x s cell averages written out on 4-D grids: cells by
    ``avg_pool2d`` (ceil mode), the cells' mask fraction the mean of their nodes',
    CMNet's object supply, the prior resized (half-pixel) back to the query's nodes."""
    import torch.nn.functional as F

    from mmfss.models.utils import foreground_weights
    from mmfss.ot import partial_ot
    b, k, c, hs, ws = support.shape
    h, w = query.shape[-2:]

    def cells(x):
        return F.avg_pool2d(x, stride, stride, ceil_mode=True)

    s = cells(support.flatten(0, 1)).flatten(2)
    q = cells(query).flatten(2).repeat_interleave(k, dim=0)
    mask = cells(foreground_weights(masks.flatten(0, 1), (hs, ws))).flatten(1)
    mask = (mask >= neck.mask_threshold).float()
    ns, nq = s.shape[-1], q.shape[-1]
    share = mask.mean(1)
    a = torch.where(share[:, None] > 0, mask / ns, torch.full_like(mask, 1 / ns))
    d = torch.full((b * k, nq), 1 / nq)
    plan = partial_ot(cosine_cost(s, q), a, d, share, neck.eps, neck.num_iters, False,
                      check=False)
    flow = torch.einsum('ns,nsq->nq', mask, plan) * nq
    hc, wc = -(-h // stride), -(-w // stride)
    prior = flow.view(b, k, 1, hc, wc).mean(1)
    return plan, F.interpolate(prior, size=(h, w), mode='bilinear', align_corners=False)


class TestMatchingStride:
    """``matching_stride``: the matching between s x s cell averages (a speed option)."""

    @pytest.mark.parametrize('stride', [1, 2, 3])
    def test_is_the_matching_of_cell_averages(self, stride):
        torch.manual_seed(stride)
        b, k, c = 2, 2, 8
        query, support = torch.randn(b, c, 5, 7), torch.randn(b, k, c, 4, 6)  # odd grids
        masks = (torch.rand(b, k, 16, 24) > 0.5).long()
        neck = _neck(matching_stride=stride)
        out = neck.match(query, support, masks)
        plan, prior = _explicit_cell_prior(neck, query, support, masks, stride)
        cells_q = (-(-5 // stride)) * (-(-7 // stride))
        cells_s = (-(-4 // stride)) * (-(-6 // stride))
        assert out['plan'].shape == (b * k, cells_s, cells_q)
        assert out['node_mask'].shape == (b * k, cells_s)
        assert out['prior'].shape == (b, 1, 5, 7)
        torch.testing.assert_close(out['plan'], plan, rtol=1e-5, atol=1e-9)
        torch.testing.assert_close(out['prior'], prior, rtol=1e-5, atol=1e-6)

    def test_prior_finds_the_object(self):
        neck = _neck(num_iters=50, matching_stride=2)
        query, support, masks = _episode(fg_rows=2)  # object: the query's left 4x2 nodes
        prior = neck(_feats(query, support, masks)).priors['ot_prior']
        assert prior.shape == (1, 1, 4, 4) and (prior >= 0).all() and (prior <= 1 + 1e-4).all()
        assert prior[..., 0].min() > 0.9 and prior[..., 3].max() < 0.1
        assert (prior[..., 0] > prior[..., 1]).all() and (prior[..., 2] > prior[..., 3]).all()

    def test_trains(self):
        query, support, masks = _episode(fg_rows=2, b=2, k=2)
        query.requires_grad_(True)
        support = support.clone().requires_grad_(True)
        prior = _neck(matching_stride=2).match(query, support, masks)['prior']
        (prior * torch.randn_like(prior)).sum().backward()
        for t in (query, support):
            assert torch.isfinite(t.grad).all() and (t.grad.abs().sum((0, 1, 2)) > 0).all()

    @pytest.mark.parametrize('stride', [0, 2.0, '2'])
    def test_bad_values(self, stride):
        with pytest.raises(ValueError, match='matching_stride must be an int >= 1'):
            _neck(matching_stride=stride)
