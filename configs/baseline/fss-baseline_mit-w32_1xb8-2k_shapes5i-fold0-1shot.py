# CPU-sized baseline on Shapes-5i on a small SegFormer MiT (32-d, 2 blocks per stage) trained
# from scratch: PFENet's prior from the last stage (patch embedding, blocks, norm) run on the
# masked third level, the PPM head on levels 2 + 3, channels read from the backbone.
_base_ = ['./fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='MixVisionTransformer',
        embed_dims=32,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 4, 8],
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=None),
    decode_head=dict(in_channels='auto'))
