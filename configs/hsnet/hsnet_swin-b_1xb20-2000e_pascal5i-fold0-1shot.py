# HSNet's 4D learner on Swin-B (ImageNet-22K, 384, window 12), PASCAL-5i fold 0, 1-shot, with
# HSNet's recipe and protocol (400x400): every Swin block of stages 1-3 (0-based; 1/8, 1/16,
# 1/32 as HSNet's layer2-4) a hypercolumn level (HypercolumnSwin, 2 + 18 + 2 = 22 levels),
# the learner unchanged. HSNet's code has no Swin backbone: this is mmfss's swap (Swin-B is
# DCAMA's backbone). Weights: pretrain/swin_base_patch4_window12_384_22k.pth (docs/backbones.md).
_base_ = ['./hsnet_r50_1xb20-2000e_pascal5i-fold0-1shot.py']
released_checkpoint = None
model = dict(
    backbone=dict(
        _delete_=True,
        type='HypercolumnSwin',
        stages=(1, 2, 3),
        pretrain_img_size=384,
        embed_dims=128,
        window_size=12,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        frozen_stages=4,
        qkv_bias=True,
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrain/swin_base_patch4_window12_384_22k.pth')),
    decode_head=dict(group_sizes=(2, 18, 2)))
