# HDMNet (Peng et al., CVPR 2023; Pbihao/HDMNet model/HDMNet.py): BAM's frozen dilated
# ResNet-50 of a base-class PSPNet fed with supports masked at the input; two raw cosine priors
# (no min-max, nearest-resized masks, the plain mean over shots) from layer4 and from the base
# learner's bottleneck before its ReLU (PSPLevelNeck, the PSPNet's pyramid run once); the
# hierarchical matching transformer as the meta learner (HierarchicalMatchingHead, its batch
# norms frozen as HDMNet's fix_bn leaves them) ensembled with the base learner as BAM, with
# HDMNet's K-shot gather (weights left in ascending order of difference) and its shot weights
# on the scene difference only. Losses: the ensemble's, the meta logits', the distillation of
# the matching weights (HDMNet's aux_loss1: distil_loss / 3); its aux_loss2, the frozen base
# learner's, moves no weight.
_base_ = ['./bam_r50-d8.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
hdmnet_prior = dict(type='PriorMaskNeck', mask_support_stage=False, min_max=False,
                    mask_mode='nearest', reweight_shots=False)
model = dict(
    mask_support_input=True,
    necks=[
        dict(type='PSPLevelNeck', source='decode_head.base_learner', in_index=3,
             out_channels=512),
        dict(hdmnet_prior, in_index=4, prior_key='prior_psp'),
        dict(hdmnet_prior, in_index=3, prior_key='prior'),
    ],
    decode_head=dict(
        meta_head=dict(
            _delete_=True,
            type='HierarchicalMatchingHead',
            in_channels=[1024, 512],
            in_index=[2, 1],
            channels=256,
            prior_keys=('prior_psp', 'prior'),
            norm_cfg=norm_cfg,
            align_corners=True,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True)),
        base_learner_level=4,
        kshot_restore_order=False,
        reweight_priors=False))
# HDMNet's get_optim: AdamW (weight decay 0.01) over the transformer at the base rate and the
# reductions, merges, gram_merge and cls_merge at 10x (leaf configs: optim_wrapper =
# {{_base_.hdmnet_optim_wrapper}}); kshot_rw is in no parameter group of
# HDMNet's optimizer, so it keeps its initial weights (here lr_mult 0, decay_mult 0).
hdmnet_optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'down_query': dict(lr_mult=10.0),
        'down_supp': dict(lr_mult=10.0),
        'query_merge': dict(lr_mult=10.0),
        'supp_merge': dict(lr_mult=10.0),
        'gram_merge': dict(lr_mult=10.0),
        'cls_merge': dict(lr_mult=10.0),
        'kshot_rw': dict(lr_mult=0.0, decay_mult=0.0),
    }))
