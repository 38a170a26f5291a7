# DOTGraph's base learner on DINOv2 ViT-B/14: a PSPNet head on the frozen DINOv2 (its last
# level, block 12 at 1/14; auxiliary head on block 8) trained on the base classes of PASCAL-5i
# fold 0 with the stage-1 recipe. The ensemble needs its base learner on the meta learner's
# backbone, here the same frozen DINOv2.
_base_ = ['./pspnet_r50-d8_4xb4-20k_pascal5i-base-fold0.py', '../_base_/backbones/dinov2-b14.py']
model = dict(
    backbone={{_base_.dinov2_b14}},
    decode_head=dict(in_channels=768, in_index=3),
    auxiliary_head=dict(in_channels=768, in_index=2))
