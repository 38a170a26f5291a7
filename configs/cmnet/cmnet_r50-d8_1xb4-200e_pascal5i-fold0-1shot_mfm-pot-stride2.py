# Speed options (change results, not the paper's settings): the message flow's messages and
# the partial OT matching both between 2x2-node cell averages (30x30 instead of 60x60 nodes:
# attentions, cost, Sinkhorn and plan 1/16), resized back to every node. docs/speed.md.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
mfm_neck = _base_.mfm_neck
mfm_neck.update(message_stride=2)
ot_neck = _base_.ot_neck
ot_neck.update(matching_stride=2)
model = dict(necks=[{{_base_.prior_neck}}, mfm_neck, ot_neck])
