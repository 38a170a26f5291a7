# BAM with VGG-16-BN (chunbolang/BAM model/BAM.py with vgg: True): PFENet's VGG split (layer2,
# 256 channels at 1/8, resized to layer3, 512 at 1/16, before the reductions; the prior from
# layer4 of the masked support layer3), the base learner a PSPNet over layer4 whose pyramid
# branches have 128 channels and its bottleneck 512 (model/PSPNet.py: fea_dim / 4, 512), the
# scene difference from the Gram matrices of layer2 resized to layer3 (BAM reads its resized
# layer2 there).
_base_ = ['./bam_r50-d8.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='VGG',
        depth=16,
        out_indices=(1, 2, 3, 4),
        norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(
        meta_head=dict(in_channels=[512, 256]),
        gram_size_index=2,
        base_learner=dict(type='PSPBottleneckHead', in_channels=512, channels=128,
                          bottleneck_channels=512)))
