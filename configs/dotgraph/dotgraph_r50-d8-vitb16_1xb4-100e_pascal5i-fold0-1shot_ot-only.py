# The OT branch of the graph only (no support-query attention).
_base_ = ['./dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py']
model = dict(necks=[{{_base_.prior_neck}}, {{_base_.clip_neck}}, dict(
        type='OTGraphNeck', in_channels=[512, 1024], in_index=[1, 2], channels=256,
        attn_channels=128, num_iters=2, use_ot=True, use_sqa=False, ot_eps=0.1, ot_iters=3,
        query_prior_key='clip_fg', support_bg_prior_key='clip_bg', query_mass='prior',
        sqa_keys='object', sqa_query_object=True,
        loss_contrast=dict(type='GraphContrastiveLoss', variant='gcl', tau=0.1, loss_weight=1.0),
        loss_support=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True,
                          loss_name='loss_support'))])
