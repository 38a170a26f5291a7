_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
fold = 2
stage1_checkpoint = 'work_dirs/pspnet_r50-d8_4xb4-20k_pascal5i-base-fold2/iter_20000.pth'
model = dict(backbone=dict(init_cfg=dict(checkpoint=stage1_checkpoint)))
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
