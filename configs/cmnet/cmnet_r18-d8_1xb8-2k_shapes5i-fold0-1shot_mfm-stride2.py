# Shapes-5i CMNet with the message flow's messages between 2x2-node cell averages (6x6 of the
# 12x12 nodes; a speed option that changes results, docs/speed.md).
_base_ = ['./cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
mfm_neck = _base_.mfm_neck
mfm_neck.update(message_stride=2)
model = dict(necks=[{{_base_.prior_neck}}, mfm_neck, {{_base_.ot_neck}}])
