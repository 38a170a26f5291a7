# Table III: full (balanced) optimal transport instead of partial OT.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
model = dict(
    necks=[{{_base_.prior_neck}}, {{_base_.mfm_neck}},
           dict(type='PartialOTMatchingNeck', in_index=-1, transport='full', mass_scale=1.0,
                supply='object', eps=0.05, num_iters=30, prior_key='ot_prior')])
