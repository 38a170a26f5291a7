# DOTGraph's base learner with BAM's recipe (DOTGraph ensembles as BAM, §2.1; BAM
# train_base.py + config/pascal/pascal_split0_resnet50_base.yaml): PSPNet (dilated
# ResNet-50, PPM, no auxiliary head) on the base classes of PASCAL-5i fold 0 (15 + background),
# 417x417 crops, batch 12 (4 GPUs x 3), 100 epochs, SGD momentum 0.9, weight decay 1e-4, lr
# 2.5e-4 for the backbone and 10x for the PSP head (BAM's index_split 0), poly 0.9 per
# iteration. DOTGraph's configs load its backbone and head (base_learner_checkpoint).
_base_ = [
    'mmseg::_base_/models/pspnet_r50-d8.py', '../_base_/datasets/pascal5i_base_bam.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_200e.py'
]
crop_size = (417, 417)
data_preprocessor = dict(size=crop_size)
# PFENet's deep-base ResNet-50 from its ImageNet weights (BAM train_base.py builds its PSPNet
# on PFENet's model/resnet.py with initmodel/resnet50_v2.pth)
backbone = dict(
    stem_channels=128,
    contract_dilation=False,
    init_cfg=dict(type='Pretrained', checkpoint='pretrain/pfenet_resnet50_v2.pth'))
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=backbone,
    decode_head=dict(num_classes=16, align_corners=True),  # BAM PPM / final resize
    auxiliary_head=None)
max_epochs = 100
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=1e-4)
optim_wrapper = dict(
    optimizer=optimizer, paramwise_cfg=dict(custom_keys=dict(decode_head=dict(lr_mult=10.0))))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
default_hooks = dict(visualization=dict(type='SegVisualizationHook'))
