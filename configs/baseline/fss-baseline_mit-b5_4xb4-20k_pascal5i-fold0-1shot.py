# The baseline on a frozen SegFormer MiT-b5 (ImageNet-1K), PASCAL-5i fold 0, 1-shot: PFENet's
# prior from MiT's last stage (patch embedding, blocks, norm) run on the masked third level, the
# PPM head on levels 2 + 3 (1/8 and 1/16), channels read from the backbone.
_base_ = ['./fss-baseline_r50-d8_4xb4-20k_pascal5i-fold0-1shot.py', '../_base_/backbones/mit-b5.py']
model = dict(backbone={{_base_.mit_b5}}, decode_head=dict(in_channels='auto'))
