# SegFormer's MiT-b5 (ImageNet-1K) in mmseg's MixVisionTransformer, frozen. Levels: 64 / 128 /
# 320 / 512 channels at strides 4 / 8 / 16 / 32; few-shot necks and heads read them with
# in_channels='auto'. Weights: pretrain/mit_b5.pth, mmseg's converted ImageNet release
# (mit_b5_20220624-658746d9.pth, configs/segformer/README.md of mmsegmentation; docs/backbones.md).
mit_checkpoint = 'pretrain/mit_b5.pth'
mit_b5 = dict(
    _delete_=True,
    type='MixVisionTransformer',
    in_channels=3,
    embed_dims=64,
    num_stages=4,
    num_layers=[3, 6, 40, 3],
    num_heads=[1, 2, 5, 8],
    patch_sizes=[7, 3, 3, 3],
    sr_ratios=[8, 4, 2, 1],
    out_indices=(0, 1, 2, 3),
    mlp_ratio=4,
    qkv_bias=True,
    drop_rate=0.0,
    attn_drop_rate=0.0,
    drop_path_rate=0.0,
    init_cfg=dict(type='Pretrained', checkpoint=mit_checkpoint))
