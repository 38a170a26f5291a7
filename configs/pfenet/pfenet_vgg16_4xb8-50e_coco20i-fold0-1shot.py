# PFENet with VGG-16-BN on COCO-20i fold 0, 1-shot, with PFENet's recipe
# (config/coco/coco_split0_vgg.yaml: SGD lr 0.02, momentum 0.9, weight decay 1e-4, poly 0.9,
# batch 32 = 4 GPUs x 8, 50 epochs, 641 crops, scale 0.8-1.25; PFENet's split of the
# classes, use_split_coco) under PFENet's test protocol at 641. The backbone starts from
# PFENet's ImageNet VGG-16-BN (pretrain/pfenet_vgg16_bn.pth). PFENet's released model of
# this fold: `python tools/test.py THIS_CONFIG pretrain/pfenet_vgg16_coco_split0.pth` after
# tools/model_converters/pfenet2mmfss.py.
_base_ = [
    '../_base_/models/pfenet_vgg16.py', '../_base_/datasets/coco20i.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_50e.py'
]
released_checkpoint = 'pretrain/pfenet_vgg16_coco_split0.pth'
data_preprocessor = dict(size=(641, 641))
model = dict(data_preprocessor=data_preprocessor)
train_dataloader = dict(
    batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True)
