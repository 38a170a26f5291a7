# The baseline on a frozen DINOv2 ViT-B/14, PASCAL-5i fold 0, 1-shot: PFENet's prior from the
# last level (a ViT has no stages: the support's level is masked after the backbone), the PPM
# head on levels 2 + 3, channels read from the backbone. 473 crops are padded to 476 (34 x 34
# patches).
_base_ = ['./fss-baseline_r50-d8_4xb4-20k_pascal5i-fold0-1shot.py',
          '../_base_/backbones/dinov2-b14.py']
model = dict(backbone={{_base_.dinov2_b14}}, decode_head=dict(in_channels='auto'))
