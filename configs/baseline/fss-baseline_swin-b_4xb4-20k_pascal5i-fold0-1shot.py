# The baseline on a frozen Swin-B (ImageNet-22K; HSNet's and DCAMA's backbone), PASCAL-5i fold 0,
# 1-shot: PFENet's prior from Swin's last stage run on the masked third level (its patch merging,
# blocks and norm), the PPM head on levels 2 + 3 (1/8 and 1/16), channels read from the backbone.
_base_ = ['./fss-baseline_r50-d8_4xb4-20k_pascal5i-fold0-1shot.py', '../_base_/backbones/swin-b.py']
model = dict(backbone={{_base_.swin_b}}, decode_head=dict(in_channels='auto'))
