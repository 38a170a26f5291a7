_base_ = ['./dotgraph_r50-d8-vitb16_4xb2-50e_coco20i-fold0-1shot.py']
fold = 2
base_learner_checkpoint = 'work_dirs/pspnet_r50-d8_4xb3-20e_coco20i-base-fold2/epoch_20.pth'
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=base_learner_checkpoint)),
    decode_head=dict(base_learner_init=dict(checkpoint=base_learner_checkpoint)))
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
