# CMNet on a frozen DINOv2 ViT-B/14, PASCAL-5i fold 0, 1-shot, with the paper's settings. The
# backbone is DINOv2's own (no stage-1 PSPNet: DINOv2 stays frozen as the foundation-model
# methods keep it); the message flow reads levels 2 + 3 (blocks 6 and 8), PFENet's prior the
# last level (block 12, the support's masked after the backbone), channels read from the
# backbone.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py', '../_base_/backbones/dinov2-b14.py']
mfm_neck = dict(
    type='MessageFlowNeck', in_channels='auto', in_index=[1, 2], channels=256,
    flows=('inner', 'cross'), num_rounds=1)
model = dict(
    backbone={{_base_.dinov2_b14}},
    necks=[{{_base_.prior_neck}}, mfm_neck, {{_base_.ot_neck}}])
