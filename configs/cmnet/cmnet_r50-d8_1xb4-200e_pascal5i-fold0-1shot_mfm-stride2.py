# Speed option (changes results, not the paper's setting): the message flow's messages are
# computed between 2x2-node cell averages (30x30 instead of 60x60 nodes, attention 1/16 of the
# cost) and resized back to every node. Speed and Shapes-5i effect: docs/speed.md.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
mfm_neck = _base_.mfm_neck
mfm_neck.update(message_stride=2)
model = dict(necks=[{{_base_.prior_neck}}, mfm_neck, {{_base_.ot_neck}}])
