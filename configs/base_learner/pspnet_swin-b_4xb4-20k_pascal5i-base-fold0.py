# DOTGraph's base learner on Swin-B: a PSPNet head on the frozen ImageNet-22K Swin-B (its last
# level, 1/32; auxiliary head on the third) trained on the base classes of PASCAL-5i fold 0 with
# the stage-1 recipe. BAM's base learners are ResNet-50s; the ensemble needs its base learner on
# the meta learner's backbone, here the same frozen ImageNet Swin-B.
_base_ = ['./pspnet_r50-d8_4xb4-20k_pascal5i-base-fold0.py', '../_base_/backbones/swin-b.py']
model = dict(
    backbone={{_base_.swin_b}},
    decode_head=dict(in_channels=1024, in_index=3),
    auxiliary_head=dict(in_channels=512, in_index=2))
# mmseg's Swin freezes its stages in train(), after DDP has registered every parameter, and
# the norms of levels 1-2 feed no head: DDP must look for parameters without gradients.
find_unused_parameters = True
