# A PSPNet (dilated ResNet-50) trained fully supervised on the base classes of COCO-20i fold 0
# (BaseClassDataset: novel pixels relabelled background, as BAM). It is CMNet's stage 1 (multi-task
# training, III.C: its backbone initialises the frozen CMNet backbone). The CMNet paper
# states no recipe for it: mmseg's PSPNet VOC-aug one (SGD lr 0.01, 20k iterations, batch 16,
# auxiliary FCN head) is used. DOTGraph's base learner follows BAM's recipe instead
# (pspnet_r50-d8_4xb3-*).
_base_ = [
    'mmseg::_base_/models/pspnet_r50-d8.py', '../_base_/datasets/coco20i_base.py',
    '../_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_20k.py'
]
crop_size = (473, 473)
data_preprocessor = dict(size=crop_size)
# PFENet's deep-base ResNet-50 from its ImageNet weights (CMNet's stage 1 in PFENet's line)
backbone = dict(
    stem_channels=128,
    contract_dilation=False,
    init_cfg=dict(type='Pretrained', checkpoint='pretrain/pfenet_resnet50_v2.pth'))
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=backbone,
    decode_head=dict(num_classes=61),
    auxiliary_head=dict(num_classes=61))
