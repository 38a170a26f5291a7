# DOTGraph (Biswas & Yin): frozen dilated ResNet-50 of a base-class PSPNet (supplement §2.3)
# -> PFENet prior mask (layer4) -> CLIP visual-text priors (ViT-B/16 Grad-CAM as PI-CLIP /
# CLIP-ES: last block's input, prompts {fg, bg, CLIP-ES background words}, native resolution,
# attention-affinity refinement) -> dual-branch OT graph (layer2 + layer3 nodes, C=256, d=128,
# 3 Sinkhorn iterations, T=2; support split by its mask, query weighed by its CLIP prior in
# both branches) with graph contrastive and support-mask losses -> PPM meta head with the
# priors, ensembled with the PSPNet base learner as BAM (§2.1). The PSPNet checkpoint is set by
# the leaf configs (base_learner_checkpoint). BAM's model (bam_r50-d8.py) with DOTGraph's
# necks and meta head.
_base_ = ['./bam_r50-d8.py']
norm_cfg = dict(type='BN', requires_grad=True)
prior_neck = dict(type='PriorMaskNeck', in_index=3, prior_key='prior')
clip_neck = dict(
    type='CLIPPriorNeck',
    model_name='ViT-B-16',
    pretrained='openai',  # or a file: OpenAI's ViT-B-16.pt or an open_clip state dict
    quick_gelu=True,  # OpenAI's weights (PI-CLIP), also from an open_clip state dict
    fg_template='a photo of {}.',
    bg_prompt='without',
    tau=0.01,
    in_index=2,
    prior_keys=('clip_fg', 'clip_bg'))
graph_neck = dict(
    type='OTGraphNeck',
    in_channels=[512, 1024],
    in_index=[1, 2],
    channels=256,
    attn_channels=128,
    num_iters=2,
    use_ot=True,
    use_sqa=True,
    ot_eps=0.1,
    ot_iters=3,
    query_prior_key='clip_fg',
    support_bg_prior_key='clip_bg',
    query_mass='prior',
    sqa_keys='object',
    sqa_query_object=True,
    loss_contrast=dict(type='GraphContrastiveLoss', variant='gcl', tau=0.1, loss_weight=1.0),
    loss_support=dict(
        type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True,
        loss_name='loss_support'))
meta_head = dict(
    type='PPMFewShotHead',
    in_channels=[256],
    in_index=[-1],
    channels=256,
    pool_scales=(1, 2, 3, 6),
    prior_keys=('prior', 'clip_fg', 'clip_bg'),
    dropout_ratio=0.1,
    norm_cfg=norm_cfg,
    align_corners=True,
    loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True))
model = dict(
    necks=[prior_neck, clip_neck, graph_neck],
    decode_head=dict(meta_head=dict(_delete_=True, **meta_head)))
