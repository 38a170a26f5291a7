_base_ = ['./cmnet_r50-d8_4xb8-50e_coco20i-fold0-1shot.py']
fold = 3
stage1_checkpoint = 'work_dirs/pspnet_r50-d8_4xb4-20k_coco20i-base-fold3/iter_20000.pth'
model = dict(backbone=dict(init_cfg=dict(checkpoint=stage1_checkpoint)))
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
