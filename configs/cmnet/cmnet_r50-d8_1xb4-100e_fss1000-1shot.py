# CMNet on FSS-1000, 1-shot (lr 0.0025, batch 4, 100 epochs). FSS-1000's masks are binary per
# image, so there is no base-class segmentation stage: the frozen backbone is ImageNet's.
_base_ = [
    '../_base_/models/cmnet_r50-d8.py', '../_base_/datasets/fss1000.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_100e.py'
]
data_preprocessor = dict(size=(224, 224))
model = dict(data_preprocessor=data_preprocessor)
train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True))
