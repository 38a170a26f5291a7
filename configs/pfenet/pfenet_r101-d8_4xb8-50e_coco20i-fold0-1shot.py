# PFENet with its deep-base ResNet-101 on COCO-20i fold 0, 1-shot (config/coco/
# coco_split0_resnet101.yaml: the VGG-16 recipe of pfenet_vgg16_4xb8-50e_coco20i-fold0-1shot.py
# with layers 101, the scales as ratios 1.0/0.5/0.25/0.125). PFENet released no weights for
# it: the backbone starts from PFENet's ImageNet ResNet-101 (pretrain/pfenet_resnet101_v2.pth,
# tools/model_converters/pfenet_resnet2mmfss.py).
_base_ = ['./pfenet_vgg16_4xb8-50e_coco20i-fold0-1shot.py']
released_checkpoint = None
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        stem_channels=128,
        contract_dilation=False,
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/pfenet_resnet101_v2.pth')),
    decode_head=dict(in_channels=[1024, 512]))
