# PFENet-style baseline on PASCAL-5i: frozen ImageNet-pretrained ResNet-50, fold 0, 1-shot.
_base_ = [
    '../_base_/models/fss-baseline_r50-d8.py', '../_base_/datasets/pascal5i.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
data_preprocessor = dict(size=(473, 473))
model = dict(data_preprocessor=data_preprocessor)
