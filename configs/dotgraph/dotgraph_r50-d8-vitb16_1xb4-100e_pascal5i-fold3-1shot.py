_base_ = ['./dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py']
fold = 3
base_learner_checkpoint = 'work_dirs/pspnet_r50-d8_4xb3-100e_pascal5i-base-fold3/epoch_100.pth'
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=base_learner_checkpoint)),
    decode_head=dict(base_learner_init=dict(checkpoint=base_learner_checkpoint)))
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
