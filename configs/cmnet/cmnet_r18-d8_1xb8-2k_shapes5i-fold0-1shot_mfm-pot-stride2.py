# Shapes-5i CMNet with the messages and the partial OT matching both between 2x2-node cell
# averages (6x6 of the 12x12 nodes; speed options that change results, docs/speed.md).
_base_ = ['./cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
mfm_neck = _base_.mfm_neck
mfm_neck.update(message_stride=2)
ot_neck = _base_.ot_neck
ot_neck.update(matching_stride=2)
model = dict(necks=[{{_base_.prior_neck}}, mfm_neck, ot_neck])
