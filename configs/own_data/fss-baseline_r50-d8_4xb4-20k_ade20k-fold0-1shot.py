# The PFENet-style baseline (frozen ImageNet ResNet-50) on few-shot ADE20K, fold 0 of 5.
_base_ = [
    '../_base_/models/fss-baseline_r50-d8.py', '../_base_/datasets/episodic_ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
data_preprocessor = dict(size=(473, 473))
model = dict(data_preprocessor=data_preprocessor)
