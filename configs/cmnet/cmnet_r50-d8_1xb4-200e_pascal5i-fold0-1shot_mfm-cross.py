# Table II: message flow with the cross flow only.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
model = dict(
    necks=[{{_base_.prior_neck}},
           dict(type='MessageFlowNeck', in_channels=[512, 1024], in_index=[1, 2], channels=256,
                flows=('cross', ), num_rounds=1),
           {{_base_.ot_neck}}])
