# The PFENet-style baseline (frozen ImageNet ResNet-50) on your own class folders
# (data/my_classes/<class>/<X>.jpg + <X>_mask.png), fold 0 of 4. See docs/own_data.md.
_base_ = [
    '../_base_/models/fss-baseline_r50-d8.py', '../_base_/datasets/class_folders.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
data_preprocessor = dict(size=(473, 473))
model = dict(data_preprocessor=data_preprocessor)
