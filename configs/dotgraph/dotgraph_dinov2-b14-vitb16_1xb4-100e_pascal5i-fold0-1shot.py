# DOTGraph on a frozen DINOv2 ViT-B/14 + CLIP ViT-B/16, PASCAL-5i fold 0, 1-shot: the Swin-B
# variant's graph (nodes on levels 2 + 3, blocks 6 and 8, channels read from the backbone)
# with DINOv2 as the backbone. PFENet's prior reads the last level (block 12; a ViT has no
# stages: the support's level is masked after the backbone). The ensemble's base learner is a
# PSPNet head trained on the same frozen DINOv2 on the base classes
# (configs/base_learner/pspnet_dinov2-b14_4xb4-20k_pascal5i-base-fold0.py; train it first).
_base_ = ['./dotgraph_swin-b-vitb16_1xb4-100e_pascal5i-fold0-1shot.py',
          '../_base_/backbones/dinov2-b14.py']
base_learner_checkpoint = 'work_dirs/pspnet_dinov2-b14_4xb4-20k_pascal5i-base-fold0/iter_20000.pth'
model = dict(
    backbone={{_base_.dinov2_b14}},
    decode_head=dict(base_learner_init=dict(checkpoint=base_learner_checkpoint)))
