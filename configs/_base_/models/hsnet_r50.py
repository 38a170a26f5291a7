# HSNet (Min et al., ICCV 2021; juhongm999/hsnet model/hsnet.py): a frozen torchvision-style
# ResNet-50 (ImageNet weights as HSNet loads them, pretrain/resnet50-0676ba61.pth) whose 13
# bottleneck outputs of layers 2-4 (before their last ReLU) are the levels, masked support
# features, clamped cosine hypercorrelations stacked per layer, and HSNet's center-pivot 4D
# learner and 2D decoder (HypercorrelationHead); K shots voted as HSNet's predict_mask_nshot.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='FewShotDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(400, 400),  # HSNet's inputs: every image stretched to 400x400
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='FewShotSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='HypercolumnResNet',
        depth=50,
        stages=(1, 2, 3),
        style='pytorch',
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/resnet50-0676ba61.pth')),
    freeze_backbone=True,
    necks=[],
    decode_head=dict(
        type='HypercorrelationHead',
        group_sizes=(4, 6, 3),
        shot_fusion='vote',
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
find_unused_parameters = False
