# PFENet on PASCAL-5i fold 0, 1-shot, with PFENet's recipe (config/pascal/
# pascal_split0_resnet50.yaml: SGD lr 0.0025, momentum 0.9, weight decay 1e-4, poly 0.9,
# batch 4, 200 epochs, 473 crops; its augmentation) under PFENet's test protocol. The
# backbone starts from PFENet's ImageNet ResNet-50 (pretrain/pfenet_resnet50_v2.pth). To
# test PFENet's released model of this fold instead: convert it
# (tools/model_converters/pfenet2mmfss.py) to released_checkpoint and run
# `python tools/test.py THIS_CONFIG pretrain/pfenet_resnet50_pascal_split0.pth`.
_base_ = [
    '../_base_/models/pfenet_r50-d8.py', '../_base_/datasets/pascal5i.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_200e.py'
]
released_checkpoint = 'pretrain/pfenet_resnet50_pascal_split0.pth'
data_preprocessor = dict(size=(473, 473))
model = dict(data_preprocessor=data_preprocessor)
train_dataloader = dict(
    batch_size=4, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True)
