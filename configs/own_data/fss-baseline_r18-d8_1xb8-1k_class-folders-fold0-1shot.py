# The walkthrough of docs/own_data.md: the CPU-sized `make demo` model on the example
# class-folder tree (tools/dataset_converters/class_folders_example.py data/my_classes),
# 96x96 crops, 1000 iterations.
_base_ = ['../baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
data_root = 'data/my_classes'
folders = dict(_delete_=True, type='ClassFolderDataset', data_root=data_root, fold=0,
               num_folds=4, shot=1)
train_dataloader = dict(
    dataset=dict(folders, split='train', pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(folders, split='test', num_episodes=500, seed=0,
                 pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1000, val_interval=1000)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=1000, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=1000))
