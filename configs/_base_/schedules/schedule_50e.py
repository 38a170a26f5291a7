# CMNet's COCO-20i schedule: lr 0.02 (batch 32), 50 epochs, poly 0.9.
_base_ = ['./schedule_200e.py']
max_epochs = 50
optimizer = dict(lr=0.02)
optim_wrapper = dict(optimizer=optimizer)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
