# FoundationFSS (arXiv:2409.06305; DUT-CSJ/FoundationFSS model/dino_fss.py): a frozen DINOv2
# ViT-B/14 whose 12 blocks (layer-normed, as get_intermediate_layers(n=range(12))) are the
# levels, supports masked at the input, every level's clamped cosine correlation one channel of
# a 4D tensor, HSNet's squeezing block and two residual depth-wise/point-wise 4D mixing blocks
# (LayerCorrelationHead), HSNet's decoder and K-shot vote. 420x420 inputs (30x30 tokens).
_base_ = ['./hsnet_r50.py']
data_preprocessor = dict(size=(420, 420))
model = dict(
    data_preprocessor=data_preprocessor,
    mask_support_input=True,
    backbone=dict(
        _delete_=True,
        type='DINOv2',
        arch='base',
        out_indices=tuple(range(12)),
        frozen=True,
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/dinov2_vitb14.pth')),
    decode_head=dict(_delete_=True, type='LayerCorrelationHead', num_levels=12,
                     align_corners=True,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0,
                                      avg_non_ignore=True)))
