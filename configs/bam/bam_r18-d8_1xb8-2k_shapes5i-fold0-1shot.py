# CPU-sized BAM meta learner on Shapes-5i (fold 0, 1-shot): the demo's half-width ResNet-18
# and schedule, PFENet's prior and BAM's meta learner (ASPPFewShotHead) at 128 channels, the
# ASPP's dilations scaled to the 12x12 grid (2, 4, 6 for BAM's 6, 12, 18 at 60x60). There is
# no base-class PSPNet to ensemble with on Shapes-5i, so the meta learner predicts alone and
# the backbone trains end to end.
_base_ = ['../baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ASPPFewShotHead',
        in_channels=[128, 64],
        in_index=[2, 1],
        channels=128,
        prior_key='prior',
        dilations=(2, 4, 6),
        dropout_ratio=0.1,
        num_classes=2,
        align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True)))
