# HSNet with VGG-16 (juhongm999/hsnet model/hsnet.py, backbone 'vgg16'): torchvision's plain
# VGG-16 (ImageNet weights, pretrain/vgg16-397923af.pth), its features 17, 19, 21 (conv4_x),
# 24, 26, 28 (conv5_x) before their ReLUs and 30 (the last pooling) as the levels, in stages
# of 3, 3 and 1 for the 4D learner.
_base_ = ['./hsnet_r50.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='HypercolumnVGG',
        feature_ids=(17, 19, 21, 24, 26, 28, 30),
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/vgg16-397923af.pth')),
    decode_head=dict(group_sizes=(3, 3, 1)))
