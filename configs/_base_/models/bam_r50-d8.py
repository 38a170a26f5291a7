# BAM (Lang et al., CVPR 2022; chunbolang/BAM model/BAM.py): the frozen dilated ResNet-50 of a
# base-class PSPNet, PFENet's prior (layer4 of the masked support layer3), the meta learner
# (ASPPFewShotHead: separate reductions, one merge, BAM's ASPP, res1/res2_meta, cls_meta)
# ensembled with the frozen PSPNet base learner through the scene difference of the layer2
# Gram matrices (EnsembleFewShotHead: gram_merge, cls_merge, K-shot reweighting). Losses: the
# ensemble's output and the meta logits (BAM's aux_loss1; its aux_loss2 is the frozen base
# learner's, which moves no weight). The PSPNet checkpoint is set by the leaf configs.
_base_ = ['./fss-baseline_r50-d8.py']
norm_cfg = dict(type='BN', requires_grad=True)
base_learner_checkpoint = None
bam_meta_head = dict(
    type='ASPPFewShotHead',
    in_channels=[1024, 512],
    in_index=[2, 1],
    channels=256,
    prior_key='prior',
    dilations=(6, 12, 18),
    dropout_ratio=0.1,
    num_classes=2,
    align_corners=True,
    loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True))
model = dict(
    necks=[dict(type='PriorMaskNeck', in_index=3, prior_key='prior')],
    decode_head=dict(
        _delete_=True,
        type='EnsembleFewShotHead',
        meta_head=bam_meta_head,
        base_learner=dict(
            type='PSPHead',
            in_channels=2048,
            in_index=3,
            channels=512,
            pool_scales=(1, 2, 3, 6),
            dropout_ratio=0.1,
            num_classes=16,
            norm_cfg=norm_cfg,
            align_corners=True,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        gram_index=1,
        shot=1,
        kshot_trans_dim=2,
        align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True)))
