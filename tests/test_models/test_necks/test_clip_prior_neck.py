import pytest
import torch
from mmseg.registry import MODELS

from mmfss.models import EpisodeFeatures
from mmfss.models.necks import visual_text_prior
from tests.tiny_clip import tiny_clip_neck


def _feats(b=2, k=2, names=('aeroplane', 'hotel_slipper')):
    torch.manual_seed(0)
    return EpisodeFeatures(
        query_feats=[torch.randn(b, 4, 6, 6)], support_feats=[torch.randn(b, k, 4, 5, 5)],
        support_masks=torch.zeros(b, k, 40, 40), query_inputs=torch.randn(b, 3, 48, 48),
        support_inputs=torch.randn(b, k, 3, 40, 40),
        img_metas=[dict(class_name=n) for n in names])


class TestVisualTextPrior:

    def test_weights_match_finite_differences(self):
        torch.manual_seed(0)
        fmap = torch.randn(1, 3, 2, 2, dtype=torch.float64)
        t_f, t_b = torch.randn(1, 3, dtype=torch.float64), torch.randn(1, 3, dtype=torch.float64)
        tau = 0.5

        def score_f(x):
            v = x.mean(dim=(2, 3))
            cos = torch.stack([torch.cosine_similarity(v, t, dim=1) for t in (t_f, t_b)], 1)
            return (cos / tau).softmax(dim=1)[0, 0]

        h = 1e-6
        expected = torch.zeros(3, dtype=torch.float64)
        for m in range(3):
            for i in range(2):
                for j in range(2):
                    up, down = fmap.clone(), fmap.clone()
                    up[0, m, i, j] += h
                    down[0, m, i, j] -= h
                    expected[m] += (score_f(up) - score_f(down)) / (2 * h) / 4  # mean_ij
        out = visual_text_prior(fmap.float(), t_f.float(), t_b.float(), tau)
        torch.testing.assert_close(out['weights_fg'][0].double(), expected, rtol=1e-3,
                                   atol=1e-5)
        # two-way softmax: the background weights are the opposite
        torch.testing.assert_close(out['weights_bg'], -out['weights_fg'])
        cam = torch.relu((expected[:, None, None] * fmap[0]).sum(0))
        torch.testing.assert_close(out['fg'][0, 0].double(), cam, rtol=1e-3, atol=1e-5)

    def test_works_without_grad_and_in_inference_mode(self):
        fmap, t = torch.randn(2, 8, 3, 3), torch.randn(2, 8)
        ref = visual_text_prior(fmap, t, -t, 0.1)
        with torch.no_grad():
            a = visual_text_prior(fmap, t, -t, 0.1)
        with torch.inference_mode():
            b = visual_text_prior(fmap.clone(), t.clone(), -t, 0.1)
        for out in (a, b):
            torch.testing.assert_close(out['fg'], ref['fg'])
            assert out['fg'].abs().sum() > 0
        assert not ref['fg'].requires_grad

    def test_no_background_prompt(self):
        out = visual_text_prior(torch.randn(1, 4, 2, 2), torch.randn(1, 4), None, 0.1)
        assert 'bg' not in out and out['scores'].shape == (1, 1)


@pytest.mark.parametrize('arch', ['ViT-B-16', 'RN50'])
class TestCLIPPriorNeck:

    def test_priors_for_query_and_supports(self, arch):
        neck = MODELS.build(tiny_clip_neck(model_name=arch))
        with torch.no_grad():
            out = neck(_feats())
        for key in ('clip_fg', 'clip_bg'):
            prior = out.priors[key]
            assert prior.shape == (2, 1, 6, 6)
            assert prior.min() >= 0 and prior.max() <= 1 and prior.max() > 0.99  # min-max
            assert out.extras[f'support_{key}'].shape == (2, 2, 1, 5, 5)
        # the prior of an image does not depend on the others in the batch
        single = _feats(b=1, names=('aeroplane', ))
        single.query_inputs = _feats().query_inputs[:1]
        single.support_inputs = _feats().support_inputs[:1]
        with torch.inference_mode():
            one = neck(single)
        # (normalised maps of a random tiny model: float noise is amplified, leakage is O(1))
        torch.testing.assert_close(one.priors['clip_fg'], out.priors['clip_fg'][:1],
                                   rtol=0, atol=1e-3)

    def test_prompts_and_text_cache(self, arch):
        neck = MODELS.build(tiny_clip_neck(model_name=arch))
        assert neck.prompts('hotel_slipper') == ['a photo of a hotel slipper.',
                                                 'This is an image without hotel slipper']
        calls = []
        original = neck.clip.encode_text
        neck.clip.encode_text = lambda tokens: calls.append(len(tokens)) or original(tokens)
        emb = neck.text_embeddings(['cat', 'dog', 'cat'])
        assert emb.shape == (3, 2, 32) and calls == [4]  # 4 distinct prompts, one batch
        torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3, 2))
        neck.text_embeddings(['dog', 'cat'])
        assert calls == [4]  # cached
        other = MODELS.build(tiny_clip_neck(model_name=arch, bg_prompt='anything'))
        assert other.prompts('cat')[1] == 'This is an image without anything'
        assert MODELS.build(tiny_clip_neck(model_name=arch, bg_prompt='part')).prompts(
            'cat')[1] == 'This is an image with part of a cat'
        none = MODELS.build(tiny_clip_neck(model_name=arch, bg_prompt='none'))
        assert none.prompts('cat') == ['a photo of a cat.']
        out = none(_feats())
        assert out.priors['clip_bg'].abs().sum() == 0 and out.priors['clip_fg'].max() > 0.99

    def test_checkpoints_leave_out_clip(self, arch):
        neck = MODELS.build(tiny_clip_neck(model_name=arch))
        state = neck.state_dict()
        assert not any(k.startswith('clip.') for k in state)
        neck.load_state_dict(state, strict=True)
        keep = MODELS.build(tiny_clip_neck(model_name=arch, save_clip_weights=True))
        assert any(k.startswith('clip.') for k in keep.state_dict())
        assert not any(p.requires_grad for p in neck.parameters())

    def test_errors(self, arch):
        neck = MODELS.build(tiny_clip_neck(model_name=arch))
        with pytest.raises(ValueError, match='class name'):
            neck(_feats(names=('cat', None)))
        with pytest.raises(ValueError, match='bg_prompt'):
            MODELS.build(tiny_clip_neck(model_name=arch, bg_prompt='nothing'))


def test_support_priors_cached_across_query_batches():
    """With a support cache the supports' CLIP priors are computed once, and equal the
    uncached ones."""
    neck = MODELS.build(tiny_clip_neck())
    neck.eval()
    calls = []
    dense = neck.dense_features
    neck.dense_features = lambda x: (calls.append(x.shape[0]), dense(x))[1]

    supports = torch.randn(2, 2, 3, 40, 40)

    def feats(cache, b):
        f = _feats(b=b, k=2, names=['aeroplane', 'hotel_slipper'] * (b // 2))
        # every episode pairs the query with one of the 2 support sets (e % 2)
        f.support_inputs = supports.repeat(b // 2, 1, 1, 1, 1)
        f.support_cache, f.support_groups = cache, 2
        return f

    cache = {}
    first = neck(feats(cache, 4))
    assert calls == [4, 4]  # 4 queries, then the 2 x 2 supports
    second = neck(feats(cache, 6))
    assert calls == [4, 4, 6]  # only the queries: the supports come from the cache
    plain = neck(feats(None, 6))
    for key in neck.prior_keys:
        torch.testing.assert_close(second.extras[f'support_{key}'],
                                   plain.extras[f'support_{key}'])
        assert second.extras[f'support_{key}'].shape[:2] == (6, 2)
        torch.testing.assert_close(first.extras[f'support_{key}'],
                                   plain.extras[f'support_{key}'][:4])
