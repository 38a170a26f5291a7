# Without the message flow module: partial OT on layer3 nodes, the head on layer2 + layer3.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
model = dict(
    necks=[{{_base_.prior_neck}},
           dict(type='PartialOTMatchingNeck', in_index=2, transport='partial', mass_scale=1.0,
                supply='object', eps=0.05, num_iters=30, prior_key='ot_prior')],
    decode_head=dict(in_channels=[512, 1024], in_index=[1, 2]))
