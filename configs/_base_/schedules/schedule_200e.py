# CMNet's PASCAL-5i schedule: SGD (lr 0.0025, momentum 0.9, weight decay 1e-4 as PFENet),
# poly decay with power 0.9 per iteration, 200 epochs (an epoch: every training query once).
# Epoch-based loops need a finite sampler and full batches: leaf configs set
# train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True)
# (PFENet's and BAM's loaders drop the last batch: a batch of one episode has no batch-norm
# statistics in the PPM's 1x1 pooling branch).
max_epochs = 200
optimizer = dict(type='SGD', lr=0.0025, momentum=0.9, weight_decay=0.0001)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=10, save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='FewShotVisualizationHook'))
