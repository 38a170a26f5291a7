# HSNet with ResNet-101 (30 levels: 4 + 23 + 3 bottlenecks of layers 2-4).
_base_ = ['./hsnet_r50_1xb20-2000e_pascal5i-fold0-1shot.py']
released_checkpoint = 'pretrain/hsnet_resnet101_pascal_fold0.pth'
model = dict(
    backbone=dict(depth=101,
                  init_cfg=dict(checkpoint='pretrain/resnet101-63fe2227.pth')),
    decode_head=dict(group_sizes=(4, 23, 3)))
