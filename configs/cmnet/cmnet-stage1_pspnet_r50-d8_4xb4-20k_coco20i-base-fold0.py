# CMNet stage 1 (multi-task training, III.C): a PSPNet with the CMNet backbone trained fully
# supervised on the base classes of COCO-20i fold 0 (images holding a novel class removed).
# CMNet does not state this schedule: mmseg's PSPNet VOC-aug one (SGD lr 0.01, 20k iterations,
# batch 16) is used. Its backbone initialises stage 2 (stage1_checkpoint in configs/cmnet).
_base_ = [
    'mmseg::_base_/models/pspnet_r50-d8.py', '../_base_/datasets/coco20i_base.py',
    '../_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_20k.py'
]
crop_size = (473, 473)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=61),
    auxiliary_head=dict(num_classes=61))
