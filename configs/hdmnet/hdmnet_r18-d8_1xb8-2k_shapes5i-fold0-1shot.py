# CPU-sized HDMNet meta learner on Shapes-5i (fold 0, 1-shot): the demo's half-width ResNet-18
# and schedule, supports masked at the input, HDMNet's raw cosine prior on the last level, and
# the hierarchical matching transformer at 32 channels over the 12x12 grid (stages 12, 6, 3)
# with its distillation loss. There is no base-class PSPNet on Shapes-5i: no bottleneck prior
# and no ensemble; the meta learner predicts alone and the backbone trains end to end.
_base_ = ['../baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
model = dict(
    mask_support_input=True,
    necks=[
        dict(type='PriorMaskNeck', in_index=3, prior_key='prior', mask_support_stage=False,
             min_max=False, mask_mode='nearest', reweight_shots=False)
    ],
    decode_head=dict(
        _delete_=True,
        type='HierarchicalMatchingHead',
        in_channels=[128, 64],
        in_index=[2, 1],
        channels=128,
        embed_dims=32,
        prior_keys=('prior', ),
        transformer=dict(num_heads=(1, 2, 4), match_heads=1),
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True)))
