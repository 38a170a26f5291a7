"""CLIPSimilarityNeck (PI-CLIP's visual-visual prior) against a statement of PI-CLIP's
``get_similarity`` over the block outputs of open_clip's own forward, and the
``prompt_classes='query_labels'`` reading of CLIPPriorNeck. PI-CLIP's code itself was run as
an oracle on identical random ViT-B/16 weights (docs/reference_parity.md)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmfss.models import EpisodeFeatures
from tests.tiny_clip import tiny_clip_neck


def _bound(layers=(1, 0), input_space='data'):
    clip_neck = MODELS.build(tiny_clip_neck())
    clip_neck.clip.double()
    model = nn.Module()
    model.necks = nn.ModuleList([clip_neck])
    neck = MODELS.build(dict(type='CLIPSimilarityNeck', source='necks.0.clip', layers=layers,
                             input_space=input_space))
    neck.bind(model)
    return clip_neck, neck


def _pi_clip_similarity(q, s, mask):
    """PI-CLIP model/PI_CLIP.py get_similarity, stated: support features times the mask
    resized nearest, cosine of every (support, query) pair (+1e-7), maximum over the
    support."""
    mask = F.interpolate((mask == 1).to(q.dtype)[:, None], q.shape[-2:])
    b, c = q.shape[:2]
    sq = (s * mask).reshape(b, c, -1).permute(0, 2, 1)
    qq = q.reshape(b, c, -1)
    sim = torch.bmm(sq, qq) / (torch.bmm(sq.norm(2, 2, True), qq.norm(2, 1, True)) + 1e-7)
    return sim.max(1)[0].view(b, 1, *q.shape[-2:])


@pytest.mark.parametrize('k', [1, 3])
def test_equals_pi_clips_visual_visual_prior(k):
    clip_neck, neck = _bound()
    visual = clip_neck.clip.visual
    g = torch.Generator().manual_seed(0)
    b = 2
    query = torch.randn(b, 3, 64, 64, generator=g, dtype=torch.float64)
    support = torch.randn(b, k, 3, 64, 64, generator=g, dtype=torch.float64)
    masks = (torch.rand(b, k, 64, 64, generator=g) > 0.5).long()
    masks[:, :, :, -5:] = 255
    feats = EpisodeFeatures(query_feats=[torch.zeros(b, 1, 8, 8)],
                            support_feats=[torch.zeros(b, k, 1, 8, 8)], support_masks=masks,
                            query_inputs=query, support_inputs=support)
    prior = neck(feats).priors['clip_vv']
    assert prior.shape == (b, 2 * k, 4, 4)

    def blocks(images):  # open_clip's own forward, block by block (the model's own grid)
        outs, x = [], visual._embeds(images)
        for block in visual.transformer.resblocks:
            x = block(x)
            outs.append(x[:, 1:].transpose(1, 2).reshape(len(images), -1, 4, 4))
        return outs

    with torch.no_grad():
        q, s = blocks(query), blocks(support.flatten(0, 1))
    expected = torch.cat([_pi_clip_similarity(q[layer], s[layer].view(b, k, -1, 4, 4)[:, i],
                                              masks[:, i])
                          for layer in (1, 0) for i in range(k)], 1)
    torch.testing.assert_close(prior.double(), expected)


def test_binding_errors():
    neck = MODELS.build(dict(type='CLIPSimilarityNeck', source='necks.0.clip'))
    with pytest.raises(RuntimeError, match='not bound'):
        neck._neck
    model = nn.Module()
    model.necks = nn.ModuleList([MODELS.build(tiny_clip_neck(model_name='RN50'))])
    with pytest.raises(ValueError, match='ViT image encoder'):
        neck.bind(model)
    model.necks = nn.ModuleList([MODELS.build(tiny_clip_neck())])
    with pytest.raises(ValueError, match=r'layers \[11, 10\] are not blocks of a 2-block ViT'):
        neck.bind(model)
    with pytest.raises(ValueError, match='no such module'):
        MODELS.build(dict(type='CLIPSimilarityNeck', source='necks.3.clip')).bind(model)
    with pytest.raises(ValueError, match="input_space must be 'clip' or 'data'"):
        MODELS.build(dict(type='CLIPSimilarityNeck', input_space='imagenet'))


def test_query_label_prompts_read_the_querys_classes():
    """prompt_classes='query_labels' (PI-CLIP): the query's prompt set is the foreground
    prompts of the classes annotated in it, then their background prompts; the CAM explains
    the episode's class among them. Without the metainfo it refuses; by default the labels
    are never read."""
    neck = MODELS.build(tiny_clip_neck(prompt_classes='query_labels', support_priors=False,
                                       background_vocabulary=(), fg_template='a photo of {}.',
                                       bg_prompt='a photo without {}.', class_names='plain'))
    assert neck.prompts(['dog', 'cat']) == ['a photo of dog.', 'a photo of cat.',
                                            'a photo without dog.', 'a photo without cat.']
    torch.manual_seed(0)
    feats = EpisodeFeatures(
        query_feats=[torch.randn(2, 4, 6, 6)], support_feats=[torch.randn(2, 1, 4, 5, 5)],
        support_masks=torch.zeros(2, 1, 40, 40), query_inputs=torch.randn(2, 3, 48, 48),
        support_inputs=torch.randn(2, 1, 3, 40, 40),
        img_metas=[dict(class_name='cat', query_class_names=['dog', 'cat']),
                   dict(class_name='bus', query_class_names=['bus'])])
    out = neck(feats)
    assert 'support_clip_fg' not in out.extras  # the query's prior alone
    with torch.no_grad():
        first = neck.cams(feats.query_inputs[:1], [['dog', 'cat']], target=1)['maps']
    expected = F.interpolate(first, size=(6, 6), mode='bilinear',
                             align_corners=False).clamp(0, 1)
    torch.testing.assert_close(out.priors['clip_fg'][:1], expected[:, :1])
    torch.testing.assert_close(out.priors['clip_bg'][:1], expected[:, 1:2])
    feats.priors = {}
    feats.img_metas[1] = dict(class_name='bus', query_class_names=['car'])  # an N-way way
    assert neck._query_labels(feats, ['cat', 'bus']) == [['dog', 'cat'], ['car', 'bus']]
    feats.img_metas[1] = dict(class_name='bus')
    with pytest.raises(ValueError, match="episode 1 \\(class 'bus'\\) has none"):
        neck(feats)
    with pytest.raises(ValueError, match="prompt_classes must be 'episode' or 'query_labels'"):
        MODELS.build(tiny_clip_neck(prompt_classes='all'))
