# Shapes-5i CMNet with the message flow's messages between 2x2-node cell averages (6x6 of the
# 12x12 nodes; a speed option that changes results, docs/speed.md).
_base_ = ['./cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
model = dict(
    necks=[
        dict(type='PriorMaskNeck', in_index=3, prior_key='prior'),
        dict(type='MessageFlowNeck', in_channels=[64, 128], in_index=[1, 2], channels=64,
             flows=('inner', 'cross'), num_rounds=1, message_stride=2),
        dict(type='PartialOTMatchingNeck', in_index=-1, transport='partial', eps=0.05,
             num_iters=30, prior_key='ot_prior')
    ])
