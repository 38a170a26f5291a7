# 100 epochs of schedule_200e's recipe (SGD lr 0.0025, momentum 0.9, weight decay 1e-4,
# batch 4 as PFENet; poly 0.9 per iteration): CMNet's FSS-1000 and DOTGraph's PASCAL-5i
# (supplement Table 4) schedule.
_base_ = ['./schedule_200e.py']
max_epochs = 100
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
