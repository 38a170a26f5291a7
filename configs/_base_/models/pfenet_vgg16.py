# PFENet with its VGG-16-BN (the COCO-20i models): stages end at the max poolings
# (ceil_mode), layer2 (256 channels, 1/8) resized to layer3 (512, 1/16) before the
# reductions, the prior from layer4 (features[34:43]) of the masked support layer3, and the
# scales as ratios of the query grid (PFENet's COCO configs: 1.0, 0.5, 0.25, 0.125).
_base_ = ['./pfenet_r50-d8.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='VGG',
        depth=16,
        out_indices=(1, 2, 3, 4),
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/pfenet_vgg16_bn.pth')),
    decode_head=dict(in_channels=[512, 256], scales=(1.0, 0.5, 0.25, 0.125)))
