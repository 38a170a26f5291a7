# CPU-sized baseline on Shapes-5i on a small Swin Transformer (32-d, 2 blocks per stage, window 6)
# trained from scratch: PFENet's prior from the last stage (patch merging, blocks, norm) run on
# the masked third level, the PPM head on levels 2 + 3, channels read from the backbone.
_base_ = ['./fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        pretrain_img_size=96,
        embed_dims=32,
        patch_size=4,
        window_size=6,
        depths=[2, 2, 2, 2],
        num_heads=[1, 2, 4, 8],
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=None),
    decode_head=dict(in_channels='auto'))
