# CMNet's stage 1 (multi-task training, III.C) on FSS-1000: a PSPNet (dilated ResNet-50)
# trained fully supervised on the 520 training classes, each image labelled with its class
# (its folder). Same recipe as the PASCAL-5i/COCO-20i stage 1 (mmseg's PSPNet VOC-aug one:
# SGD lr 0.01, 20k iterations, batch 16); 224x224 crops, FSS-1000's image size.
_base_ = [
    'mmseg::_base_/models/pspnet_r50-d8.py', '../_base_/datasets/fss1000_base.py',
    '../_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_20k.py'
]
crop_size = (224, 224)
ignore_index = 1000  # 255 is a class here (fss1000_base.py)
data_preprocessor = dict(size=crop_size, seg_pad_val=ignore_index)
# PFENet's deep-base ResNet-50 from its ImageNet weights (CMNet's stage 1 in PFENet's line)
backbone = dict(
    stem_channels=128,
    contract_dilation=False,
    init_cfg=dict(type='Pretrained', checkpoint='pretrain/pfenet_resnet50_v2.pth'))
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=backbone,
    decode_head=dict(num_classes=521, ignore_index=ignore_index),
    auxiliary_head=dict(num_classes=521, ignore_index=ignore_index))
