# CPU-sized DOTGraph on Shapes-5i (fold 0, 1-shot): the demo's half-width ResNet-18 and
# schedule, a tiny randomly initialised open_clip ViT (the real ViT code path; with random
# weights its priors carry no text knowledge, and no CLIP weights can be downloaded here), the
# dual-branch OT graph on 64-d nodes (T=2, 3 Sinkhorn iterations, d=32) with both losses, and
# the PPM meta head with the PFENet and CLIP priors. There is no base-class PSPNet to ensemble
# with on Shapes-5i, so the meta head predicts alone and the backbone trains end to end, as the
# baseline it is compared with.
_base_ = ['../baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
prior_neck = dict(type='PriorMaskNeck', in_index=3, prior_key='prior')
tiny_clip = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=64, layers=2, width=64, patch_size=16, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=2))
clip_neck = dict(
    type='CLIPPriorNeck',
    model_name='ViT-B-16',
    pretrained=None,
    model_cfg=tiny_clip,
    in_index=2,
    prior_keys=('clip_fg', 'clip_bg'))
graph_neck = dict(
    type='OTGraphNeck',
    in_channels=[64, 128],
    in_index=[1, 2],
    channels=64,
    attn_channels=32,
    num_iters=2,
    ot_eps=0.1,
    ot_iters=3,
    query_prior_key='clip_fg',
    support_bg_prior_key='clip_bg')
model = dict(
    necks=[prior_neck, clip_neck, graph_neck],
    decode_head=dict(
        in_channels=[64], in_index=[-1], prior_keys=('prior', 'clip_fg', 'clip_bg')))
