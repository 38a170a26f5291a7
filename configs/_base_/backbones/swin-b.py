# Swin-B (ImageNet-22K, 384x384, window 12): HSNet's and DCAMA's backbone, in mmseg's
# SwinTransformer, frozen as theirs (every stage and output norm). Levels: 128 / 256 / 512 / 1024 channels at strides
# 4 / 8 / 16 / 32; few-shot necks and heads read them with in_channels='auto'. Weights:
# pretrain/swin_base_patch4_window12_384_22k.pth (the official release converted with
# tools/model_converters/swin2mmfss.py, or mmseg's converted copy; docs/backbones.md).
swin_checkpoint = 'pretrain/swin_base_patch4_window12_384_22k.pth'
swin_b = dict(
    _delete_=True,
    type='SwinTransformer',
    pretrain_img_size=384,
    embed_dims=128,
    patch_size=4,
    window_size=12,
    mlp_ratio=4,
    depths=[2, 2, 18, 2],
    num_heads=[4, 8, 16, 32],
    strides=(4, 2, 2, 2),
    frozen_stages=4,  # frozen as HSNet/DCAMA keep it (also in the base learner's PSPNet)
    out_indices=(0, 1, 2, 3),
    qkv_bias=True,
    drop_path_rate=0.0,
    patch_norm=True,
    act_cfg=dict(type='GELU'),
    norm_cfg=dict(type='LN', requires_grad=True),
    init_cfg=dict(type='Pretrained', checkpoint=swin_checkpoint))
