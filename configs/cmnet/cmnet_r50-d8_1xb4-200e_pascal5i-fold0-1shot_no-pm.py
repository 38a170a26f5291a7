# Table I / III: without PFENet's prior mask.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
model = dict(
    necks=[{{_base_.mfm_neck}}, {{_base_.ot_neck}}],
    decode_head=dict(prior_keys=('ot_prior', )))
