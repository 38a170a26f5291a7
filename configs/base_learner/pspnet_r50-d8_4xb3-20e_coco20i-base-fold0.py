# DOTGraph's base learner on COCO-20i fold 0 with BAM's recipe (BAM
# config/coco/coco_split0_resnet50_base.yaml): as the PASCAL-5i one (417x417 crops, batch 12)
# with 60 base classes + background, 20 epochs and lr 2.5e-3 for every layer (BAM's
# index_split -1 puts all parameter groups at 10x its base_lr 2.5e-4).
_base_ = ['./pspnet_r50-d8_4xb3-100e_pascal5i-base-fold0.py']
data_root = 'data/coco'
model = dict(decode_head=dict(num_classes=61))
train_dataloader = dict(
    dataset=dict(episodic=dict(type='COCO20iDataset', data_root=data_root)))
val_dataloader = dict(
    dataset=dict(episodic=dict(type='COCO20iDataset', data_root=data_root)))
test_dataloader = val_dataloader
max_epochs = 20
optim_wrapper = dict(optimizer=dict(lr=2.5e-3), paramwise_cfg=dict(_delete_=True))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
