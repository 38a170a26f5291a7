# Shapes-5i CMNet without the partial OT matching prior (Table I's "POT" row, CPU-sized).
_base_ = ['./cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
model = dict(necks=[{{_base_.prior_neck}}, {{_base_.mfm_neck}}],
             decode_head=dict(prior_keys=('prior', )))
