# Table I: without the partial OT matching prior.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
model = dict(
    necks=[{{_base_.prior_neck}}, {{_base_.mfm_neck}}],
    decode_head=dict(prior_keys=('prior', )))
