# DOTGraph on Swin-B (ImageNet-22K) + CLIP ViT-B/16, PASCAL-5i fold 0, 1-shot. The frozen
# backbone is the ImageNet Swin-B; the ensemble's base learner is a PSPNet head trained on the
# same frozen Swin-B on the base classes (configs/base_learner/pspnet_swin-b_4xb4-20k_pascal5i-
# base-fold0.py; train it first). OT-graph nodes on levels 2 + 3 (1/8 and 1/16), channels read
# from the backbone.
_base_ = [
    './dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py', '../_base_/backbones/swin-b.py'
]
base_learner_checkpoint = 'work_dirs/pspnet_swin-b_4xb4-20k_pascal5i-base-fold0/iter_20000.pth'
graph_neck = dict(
    type='OTGraphNeck', in_channels='auto', in_index=[1, 2], channels=256, attn_channels=128,
    num_iters=2, use_ot=True, use_sqa=True, ot_eps=0.1, ot_iters=3, query_prior_key='clip_fg',
    support_bg_prior_key='clip_bg', query_mass='prior', sqa_keys='object',
    sqa_query_object=True,
    loss_contrast=dict(type='GraphContrastiveLoss', variant='gcl', tau=0.1, loss_weight=1.0),
    loss_support=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True,
                      loss_name='loss_support'))
model = dict(
    backbone={{_base_.swin_b}},
    necks=[{{_base_.prior_neck}}, {{_base_.clip_neck}}, graph_neck],
    decode_head=dict(
        base_learner=dict(in_channels='auto'),
        base_learner_init=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='decode_head.')))
