_base_ = ['./hdmnet_r50-d8_4xb6-50e_coco20i-fold0-5shot.py']
fold = 1
base_learner_checkpoint = 'pretrain/bam_pspnet_resnet50_coco_split1.pth'
released_checkpoint = 'pretrain/hdmnet_resnet50_coco_split1_5shot.pth'
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=base_learner_checkpoint)),
    decode_head=dict(base_learner_init=dict(checkpoint=base_learner_checkpoint)))
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
