import cv2
import numpy as np
import pytest
import torch
from mmseg.registry import MODELS

from mmfss.models import EpisodeFeatures
from mmfss.models.utils import affinity_refine, cam_boxes_mask, clip_grad_cam, scale_cam
from mmfss.models.utils.clip_grad_cam import (resize_pos_embed, resnet_attnpool_input,
                                              resnet_scores, vit_last_block_input, vit_scores)
from mmfss.models.necks import CLIP_ES_BACKGROUND
from tests.tiny_clip import tiny_clip_neck


def _feats(b=2, k=2, names=('aeroplane', 'hotel_slipper')):
    torch.manual_seed(0)
    return EpisodeFeatures(
        query_feats=[torch.randn(b, 4, 6, 6)], support_feats=[torch.randn(b, k, 4, 5, 5)],
        support_masks=torch.zeros(b, k, 40, 40), query_inputs=torch.randn(b, 3, 48, 48),
        support_inputs=torch.randn(b, k, 3, 40, 40),
        img_metas=[dict(class_name=n) for n in names])


def _double_neck(arch, **kw):
    torch.manual_seed(0)  # the same random CLIP whatever ran before (the tests' tolerances)
    neck = MODELS.build(tiny_clip_neck(model_name=arch, **kw))
    neck.clip.double()
    return neck


def _literal_prior(fmap: torch.Tensor, t_f: torch.Tensor, t_b: torch.Tensor, tau: float):
    """The supplement's §1.1 read literally (a restatement kept in the tests only): v is the
    spatial mean of the map the gradient is taken at, S a two-prompt softmax; returns the raw
    (pre-ReLU) foreground and background maps [N, h, w]."""
    x = fmap.detach().clone().requires_grad_(True)
    v = x.mean(dim=(2, 3))
    cos = torch.stack([torch.cosine_similarity(v, t, dim=1) for t in (t_f, t_b)], 1) / tau
    probs = cos.softmax(dim=1)
    raws = []
    for i in range(2):
        g, = torch.autograd.grad(probs[:, i].sum(), x, retain_graph=True)
        raws.append((g.mean(dim=(2, 3))[:, :, None, None] * x).sum(1).detach())
    return raws


@pytest.mark.parametrize('arch', ['ViT-B-16', 'RN50'])
class TestCLIPGradCAM:

    def _inputs(self, neck, n=2, size=(64, 80)):
        torch.manual_seed(0)
        images = neck.to_clip(torch.randn(n, 3, *size))
        text = neck.text_embeddings(['cat', 'hotel_slipper', 'dog'][:n]).double()
        return images, text

    def test_gradient_matches_finite_differences(self, arch):
        """The gradient Grad-CAM uses is dS/dA at the hooked layer (last ViT block's ln_1
        output / the attention pool's input), through that block: central differences."""
        neck = _double_neck(arch)
        visual = neck.clip.visual
        images, text = self._inputs(neck)
        out = clip_grad_cam(visual, images, text, [0, 1], neck.tau)
        with torch.no_grad():
            if neck.vit:
                block_input, _, grid = vit_last_block_input(visual, images)
                hooked = visual.transformer.resblocks[-1].ln_1(block_input)

                def score(a, t):
                    return vit_scores(visual, a, block_input, text, neck.tau)[0][:, t].sum()
            else:
                hooked = resnet_attnpool_input(visual, images)

                def score(a, t):
                    return resnet_scores(visual, a, text, neck.tau)[:, t].sum()
        gen = torch.Generator().manual_seed(1)
        h = 1e-6
        for t in (0, 1):
            for _ in range(12):
                n = int(torch.randint(2, (1, ), generator=gen))
                c = int(torch.randint(hooked.shape[-1 if neck.vit else 1], (1, ), generator=gen))
                y, x = (int(torch.randint(s, (1, ), generator=gen))
                        for s in out['activation'].shape[-2:])
                idx = ((n, 1 + y * out['activation'].shape[-1] + x, c) if neck.vit else
                       (n, c, y, x))
                up, down = hooked.clone(), hooked.clone()
                up[idx] += h
                down[idx] -= h
                with torch.no_grad():
                    fd = (score(up, t) - score(down, t)) / (2 * h)
                torch.testing.assert_close(out['grads'][n, t, c, y, x], fd, rtol=1e-5,
                                           atol=1e-10)
        # the gradient varies over space (it passes through the block) ...
        grads = out['grads'].flatten(-2)
        assert (grads.std(-1) > 1e-3 * grads.abs().mean(-1)).float().mean() > 0.9
        # ... and the CAM is ReLU(sum_m mean_ij(grad) A^m) of the hooked activation
        w = out['grads'].mean(dim=(-2, -1))
        raw = torch.einsum('ntc,nchw->nthw', w, out['activation'])
        torch.testing.assert_close(out['raw'], raw)
        torch.testing.assert_close(out['cams'], raw.clamp_min(0))

    def test_maps_are_not_degenerate_unlike_the_literal_reading(self, arch):
        neck = _double_neck(arch)
        images, text = self._inputs(neck, n=3)
        out = clip_grad_cam(neck.clip.visual, images, text, [0, 1], neck.tau)
        fg, bg = out['raw'][:, 0], out['raw'][:, 1]
        # literal reading on the same activation: zero spatial mean, background = -foreground
        t_f = torch.randn(3, out['activation'].shape[1], dtype=torch.float64)
        t_b = torch.randn_like(t_f)
        lit_fg, lit_bg = _literal_prior(out['activation'], t_f, t_b, neck.tau)
        assert (lit_fg.mean((1, 2)).abs() / lit_fg.std((1, 2)) < 1e-8).all()
        torch.testing.assert_close(lit_bg, -lit_fg)
        # mmfss: neither holds
        assert (fg.mean((1, 2)).abs() / fg.std((1, 2)) > 1e-3).all()
        assert ((bg + fg).flatten(1).norm(dim=1) > 0.05 * fg.flatten(1).norm(dim=1)).all()

    def test_batched_equals_one_at_a_time_and_no_grad_modes(self, arch):
        # tau 1: a random tiny CLIP saturates CLIP's softmax at tau 0.01 (gradients ~1e-9)
        neck = _double_neck(arch, tau=1.0)
        torch.manual_seed(0)
        images = torch.randn(3, 3, 96, 112, dtype=torch.float64)
        names = ['cat', 'hotel_slipper', 'dog']
        batched = neck.priors(images, names, (12, 14))
        for i in range(3):
            one = neck.priors(images[i:i + 1], names[i:i + 1], (12, 14))
            for a, b in zip(one, batched):
                torch.testing.assert_close(a, b[i:i + 1], rtol=0, atol=1e-10)
        with torch.no_grad():
            no_grad = neck.priors(images, names, (12, 14))
        with torch.inference_mode():
            inference = neck.priors(images.clone(), names, (12, 14))
        for maps in (no_grad, inference):
            for a, b in zip(maps, batched):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
                assert not a.requires_grad
        # the equalities above are not vacuous: most maps vary over space
        assert sum(int((m.flatten(1).std(1) > 0.05).sum()) for m in batched) >= 4

    def test_native_input_size(self, arch):
        neck = MODELS.build(tiny_clip_neck(model_name=arch))
        assert neck.clip_input_size((473, 473)) == (480, 480)
        assert neck.clip_input_size((375, 500)) == ((384, 512) if arch == 'ViT-B-16' else
                                                    (384, 512))
        assert neck.clip_input_size((64, 64)) == (64, 64)
        fixed = MODELS.build(tiny_clip_neck(model_name=arch, input_size=224))
        assert fixed.clip_input_size((473, 300)) == (224, 224)
        assert tuple(neck.to_clip(torch.randn(1, 3, 50, 70)).shape[-2:]) == (
            (64, 80) if arch == 'ViT-B-16' else (64, 96))


def test_vit_forward_matches_open_clip():
    """The blocks run by hand (to read their attention) equal open_clip's, and the
    positional embedding is resized bilinearly with the class token kept."""
    neck = _double_neck('ViT-B-16')
    visual = neck.clip.visual
    images = torch.randn(2, 3, 64, 64, dtype=torch.float64)  # the model's own grid
    tokens, weights, grid = vit_last_block_input(visual, images, need_weights=True)
    with torch.no_grad():
        ref = visual._embeds(images)
        for block in visual.transformer.resblocks[:-1]:
            ref = block(ref)
    torch.testing.assert_close(tokens, ref)
    assert grid == (4, 4) and len(weights) == len(visual.transformer.resblocks) - 1
    torch.testing.assert_close(weights[0].sum(-1), torch.ones(2, 17, dtype=torch.float64))
    pos = visual.positional_embedding
    assert resize_pos_embed(pos, (4, 4)) is pos
    resized = resize_pos_embed(pos, (3, 5))
    expected = torch.nn.functional.interpolate(
        pos[1:].T.reshape(1, -1, 4, 4), size=(3, 5), mode='bilinear', align_corners=False)
    torch.testing.assert_close(resized[1:], expected.flatten(2)[0].T)
    torch.testing.assert_close(resized[0], pos[0])


def _pi_clip_refine(cam: np.ndarray, attn: np.ndarray, threshold: float = 0.4) -> np.ndarray:
    """My statement of PI-CLIP model/get_cam.py's refinement of one scaled CAM (numpy)."""
    h, w = cam.shape
    u8 = (cam * 255).astype(np.uint8)
    _, binary = cv2.threshold(u8, int(threshold * u8.max()), 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
    mask = np.zeros((h, w))
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        mask[y:min(y + bh, h - 1), x:min(x + bw, w - 1)] = 1
    trans = attn / attn.sum(axis=0, keepdims=True)
    trans = trans / trans.sum(axis=1, keepdims=True)
    trans = np.maximum(trans, trans @ trans.T)
    trans = trans @ trans
    trans = trans * mask.reshape(1, -1)
    return (trans @ cam.reshape(-1, 1)).reshape(h, w)


def test_affinity_refinement_matches_pi_clip_statement():
    neck = _double_neck('ViT-B-16')
    torch.manual_seed(0)
    out = neck.cams(torch.randn(2, 3, 96, 112, dtype=torch.float64), ['cat', 'dog'])
    # the affinity is the mean patch attention of the last blocks (all 2 of the tiny model)
    assert out['affinity'].shape == (2, 42, 42)
    assert (out['affinity'] >= 0).all() and (out['affinity'].sum(-1) <= 1 + 1e-12).all()
    cams = scale_cam(scale_cam(out['cams']))  # per layer, then the layers' mean
    refined = affinity_refine(cams, out['affinity'])
    for n in range(2):
        for t in range(2):
            expected = _pi_clip_refine(cams[n, t].numpy(), out['affinity'][n].numpy())
            np.testing.assert_allclose(refined[n, t].numpy(), expected, rtol=1e-10,
                                       atol=1e-12)
    torch.testing.assert_close(out['maps'], scale_cam(refined))
    # a CAM whose boxes are empty refines to zeros
    assert affinity_refine(torch.zeros(1, 1, 6, 7, dtype=torch.float64),
                           out['affinity'][:1]).abs().sum() == 0
    # boxes: clipped to the last index as the reference slices
    cam = torch.zeros(5, 6)
    cam[1:3, 2:4] = 1.0
    cam[4, 5] = 0.9
    mask = cam_boxes_mask(cam)
    assert mask[1:3, 2:4].all() and mask.sum() == 4


@pytest.mark.parametrize('arch', ['ViT-B-16', 'RN50'])
class TestCLIPPriorNeck:

    def test_priors_for_query_and_supports(self, arch):
        neck = MODELS.build(tiny_clip_neck(model_name=arch))
        with torch.no_grad():
            out = neck(_feats())
        for key in ('clip_fg', 'clip_bg'):
            prior = out.priors[key]
            assert prior.shape == (2, 1, 6, 6)
            assert prior.min() >= 0 and prior.max() <= 1
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
        prompts = neck.prompts('hotel_slipper')
        assert prompts[:3] == ['a photo of hotel slipper.',
                               'This is an image without hotel slipper', 'a photo of ground.']
        assert len(prompts) == 2 + len(CLIP_ES_BACKGROUND)
        calls = []
        original = neck.clip.encode_text
        neck.clip.encode_text = lambda tokens: calls.append(len(tokens)) or original(tokens)
        emb = neck.text_embeddings(['cat', 'dog', 'cat'])
        assert emb.shape == (3, 27, 32) and calls == [4 + 25]  # distinct prompts, one batch
        torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3, 27))
        torch.testing.assert_close(emb[0, 2:], emb[1, 2:])  # the shared vocabulary
        neck.text_embeddings(['dog', 'cat'])
        assert calls == [29]  # cached
        other = MODELS.build(tiny_clip_neck(model_name=arch, bg_prompt='anything'))
        assert other.prompts('cat')[1] == 'This is an image without anything'
        assert MODELS.build(tiny_clip_neck(model_name=arch, bg_prompt='part')).prompts(
            'cat')[1] == 'This is an image with part of a cat'
        none = MODELS.build(tiny_clip_neck(model_name=arch, bg_prompt='none'))
        assert none.prompts('cat')[:2] == ['a photo of cat.', 'a photo of ground.']
        out = none(_feats())
        assert out.priors['clip_bg'].abs().sum() == 0
        grid = 4 if arch == 'ViT-B-16' else 2  # stride 16 / 32
        assert none.cams(torch.randn(1, 3, 64, 64), ['cat'])['maps'].shape == (1, 1, grid, grid)

    def test_never_reads_the_query_ground_truth(self, arch):
        neck = MODELS.build(tiny_clip_neck(model_name=arch))
        plain = neck(_feats())
        feats = _feats()
        feats.query_masks = torch.randint(0, 2, (2, 48, 48))
        with_gt = neck(feats)
        for key in neck.prior_keys:
            torch.testing.assert_close(plain.priors[key], with_gt.priors[key], rtol=0, atol=0)

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
        with pytest.raises(ValueError, match="foreground's negative half"):
            MODELS.build(tiny_clip_neck(model_name=arch, background_vocabulary=()))
        MODELS.build(tiny_clip_neck(model_name=arch, background_vocabulary=(),
                                    bg_prompt='none'))  # no background prior: allowed
        for bad in ('full', 0, (224, -1), (1, 2, 3)):
            with pytest.raises(ValueError, match='input_size'):
                MODELS.build(tiny_clip_neck(model_name=arch, input_size=bad))
        with pytest.raises(ValueError, match='box_threshold'):
            MODELS.build(tiny_clip_neck(model_name=arch, box_threshold=1.5))
        with pytest.raises(ValueError, match="prior_resize must be 'direct' or 'via_image'"):
            MODELS.build(tiny_clip_neck(model_name=arch, prior_resize='cv2'))
        if arch == 'RN50':
            assert not neck.affinity_refine
            with pytest.raises(ValueError, match='needs a ViT'):
                MODELS.build(tiny_clip_neck(model_name=arch, affinity_refine=True))
        else:
            assert neck.affinity_refine


def test_support_priors_cached_across_query_batches():
    """With a support cache the supports' CLIP priors are computed once, and equal the
    uncached ones."""
    neck = MODELS.build(tiny_clip_neck())
    neck.eval()
    calls = []
    cams = neck.cams
    neck.cams = lambda x, names: (calls.append(x.shape[0]), cams(x, names))[1]

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


def test_openai_weights_get_quick_gelu():
    """OpenAI's CLIP weights were trained with QuickGELU; open_clip builds 'ViT-B-16' with
    GELU unless told, so the neck asks for it from the pretrained tag."""
    from mmfss.models.necks.clip_prior_neck import clip_create_kwargs
    assert clip_create_kwargs('ViT-B-16', 'openai', None) == dict(force_quick_gelu=True)
    assert clip_create_kwargs('RN50', 'openai', dict(a=1)) == dict(a=1, force_quick_gelu=True)
    assert clip_create_kwargs('ViT-B-16', 'laion2b_s34b_b88k', None) == {}
    assert clip_create_kwargs('ViT-B-16', None, None) == {}
    assert clip_create_kwargs('ViT-B-16', 'openai', dict(force_quick_gelu=False)) == dict(
        force_quick_gelu=False)
    # and the model built with it uses QuickGELU
    from open_clip.transformer import QuickGELU
    neck = MODELS.build(tiny_clip_neck(model_cfg_extra=dict(force_quick_gelu=True)))
    assert isinstance(neck.clip.visual.transformer.resblocks[0].mlp.gelu, QuickGELU)


# CLIP-ES clip_text.py (as PI-CLIP's clip/clip_text.py copies it): the class lists in label
# order and the renamed lists the prompts use, stated here to check the neck's table.
CLIP_ES_VOC = ('aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse '
               'motorbike person pottedplant sheep sofa train tvmonitor').split()
CLIP_ES_VOC_NEW = dict(bird='bird avian', chair='chair seat',
                       person='person with clothes,people,human', tvmonitor='tvmonitor screen')
CLIP_ES_COCO_NEW = {0: 'person with clothes,people,human', 3: 'motorbike', 4: 'aeroplane',
                    14: 'bird avian', 24: 'backpack,bag', 25: 'umbrella,parasol',
                    26: 'handbag,purse', 27: 'necktie', 31: 'sknowboard', 35: 'glove',
                    44: 'dessertspoon', 56: 'chair seat', 57: 'sofa', 58: 'pottedplant',
                    60: 'diningtable', 62: 'tvmonitor screen', 65: 'remote control',
                    78: 'hairdrier,blowdrier'}


def test_prompt_names_are_clip_es_renames():
    """PASCAL-5i and COCO-20i classes are prompted with CLIP-ES's names by default (PI-CLIP's
    prompts); class_names='plain' keeps the dataset's."""
    from mmfss.datasets import COCO20iDataset, PASCAL5iDataset
    neck = MODELS.build(tiny_clip_neck())
    plain = MODELS.build(tiny_clip_neck(class_names='plain'))
    voc = PASCAL5iDataset.METAINFO['classes'][1:]
    assert voc == tuple(CLIP_ES_VOC)
    for name in voc:
        assert neck.prompts(name)[0] == f'a photo of {CLIP_ES_VOC_NEW.get(name, name)}.'
        assert plain.prompts(name)[0] == f'a photo of {name}.'
    coco = COCO20iDataset.METAINFO['classes'][1:]
    # mmfss's COCO names are COCO's own; CLIP-ES's plain list is PFENet's spelling of them
    renamed = {coco[i]: new for i, new in CLIP_ES_COCO_NEW.items()}
    for name in coco:
        expected = renamed.get(name, name)
        assert neck.prompts(name)[:2] == [f'a photo of {expected}.',
                                          f'This is an image without {expected}']
    assert neck.prompts('person')[0] == 'a photo of person with clothes,people,human.'
    custom = MODELS.build(tiny_clip_neck(class_names={'bolt': 'metal bolt'}))
    assert custom.prompts('bolt')[0] == 'a photo of metal bolt.'
    assert custom.prompts('person')[0] == 'a photo of person.'
    with pytest.raises(ValueError, match="class_names must be 'clip_es', 'plain' or a dict"):
        MODELS.build(tiny_clip_neck(class_names='clip-es'))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_grad_cam_under_autocast_is_the_fp32_one(dtype):
    """Under autocast (``--amp``) the differentiated part of the Grad-CAM and the affinity
    refinement stay in float32: the maps equal the fp32 ones up to the low-precision
    blocks before the last (CLIP's sharp softmax, tau = 0.01, would otherwise push the
    gradients into fp16's subnormal range)."""
    neck = MODELS.build(tiny_clip_neck(model_name='ViT-B-16'))
    torch.manual_seed(0)
    images = torch.randn(2, 3, 96, 112)
    fp32 = neck.cams(images, ['cat', 'dog'])
    with torch.autocast('cpu', dtype=dtype):
        low = neck.cams(images, ['cat', 'dog'])
    for key in ('grads', 'raw', 'affinity', 'maps'):
        assert low[key].dtype == torch.float32, key
        assert torch.isfinite(low[key]).all(), key
    # the grads' scale: they are differentiated in float32 from the (rounded) block input
    rel = (low['raw'] - fp32['raw']).norm() / fp32['raw'].norm()
    assert rel < 0.05, rel


def test_only_the_refinement_layers_keep_attention_weights():
    """Attention weights are materialised for the blocks the affinity averages only."""
    visual = MODELS.build(tiny_clip_neck(model_name='ViT-B-16',
                                         model_cfg_extra=dict(vision_cfg=dict(
                                             image_size=64, layers=5, width=32,
                                             patch_size=16, head_width=16)))).clip.visual
    images = torch.randn(1, 3, 64, 64)
    _, none, _ = vit_last_block_input(visual, images)
    _, two, _ = vit_last_block_input(visual, images, need_weights=2)
    _, every, _ = vit_last_block_input(visual, images, need_weights=True)
    assert len(none) == 0 and len(two) == 2 and len(every) == 4
    for a, b in zip(two, every[-2:]):
        torch.testing.assert_close(a, b)
    out = clip_grad_cam(visual, images, torch.randn(1, 3, 32), [0], 0.01, attn_layers=3)
    manual = torch.stack(every[-2:] + [vit_scores(
        visual, visual.transformer.resblocks[-1].ln_1(vit_last_block_input(visual, images)[0]),
        vit_last_block_input(visual, images)[0], torch.randn(1, 3, 32), 0.01, True)[1]])
    torch.testing.assert_close(out['affinity'], manual[:, :, 1:, 1:].mean(0))


def test_prior_resize_via_image_restates_pi_clip():
    """``prior_resize='via_image'``: PI-CLIP's path from the map at CLIP's patch grid to the
    node grid (``get_img_cam``: ``scale_cam_image`` min-max scales and ``cv2.resize``s it to
    the image's size; ``PI_CLIP.forward``: ``F.interpolate(..., align_corners=True)`` to the
    feature grid), restated with cv2 on the neck's own maps; ``'direct'`` is one bilinear
    resize, and the two differ."""
    neck = MODELS.build(tiny_clip_neck(prior_resize='via_image', support_priors=False))
    direct = MODELS.build(tiny_clip_neck(support_priors=False))
    direct.load_state_dict(neck.state_dict())
    direct.clip.load_state_dict(neck.clip.state_dict())
    feats = _feats(names=('cat', 'dog'))
    images = feats.query_inputs
    with torch.no_grad():
        maps = neck.cams(images, ['cat', 'dog'])['maps']  # [2, 2, h, w], scaled to [0, 1]
    expected = []
    for m in maps.numpy():
        planes = [cv2.resize(plane, (images.shape[-1], images.shape[-2])) for plane in m]
        expected.append(torch.nn.functional.interpolate(
            torch.from_numpy(np.stack(planes))[None], size=(6, 6), mode='bilinear',
            align_corners=True)[0])
    expected = torch.stack(expected).clamp(0, 1)
    ours = neck(_feats(names=('cat', 'dog')))
    got = torch.cat([ours.priors['clip_fg'], ours.priors['clip_bg']], dim=1)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    plain = direct(_feats(names=('cat', 'dog'))).priors['clip_fg']
    assert (plain - got[:, :1]).abs().max() > 1e-3
