# Few-shot baseline (PFENet-style): frozen ImageNet-pretrained dilated ResNet-50 (1/8)
# -> PFENet prior mask (layer4) -> PPM few-shot head (layer2 + layer3, prototype, prior).
# The backbone is PFENet's "deep base" ResNet (model/resnet.py: stem 3->64->64->128, layer1
# entered with 128 channels; every 3x3 conv of layer3/4 at dilation 2/4, model/PFENet.py) in
# mmseg's terms, initialised from PFENet's ImageNet weights (resnet50_v2.pth converted with
# tools/model_converters/pfenet_resnet2mmfss.py; docs/install.md, "Reference weights").
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='FewShotDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='FewShotSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        stem_channels=128,
        contract_dilation=False,
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/pfenet_resnet50_v2.pth')),
    freeze_backbone=True,
    necks=[dict(type='PriorMaskNeck', in_index=3, prior_key='prior')],
    decode_head=dict(
        type='PPMFewShotHead',
        in_channels=[512, 1024],
        in_index=[1, 2],
        channels=256,
        pool_scales=(1, 2, 3, 6),
        prior_keys=('prior', ),
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
# Every trainable parameter gets a gradient in each step (the backbone is frozen), so DDP
# needs no search for unused ones (an extra graph walk per step). A config that trains the
# backbone sets it True: the prior neck reads the last level without gradients (PFENet's
# training-free prior), so that stage gets none. tests/test_configs.py checks every config.
find_unused_parameters = False
