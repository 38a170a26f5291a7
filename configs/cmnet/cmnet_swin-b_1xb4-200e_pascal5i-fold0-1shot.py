# CMNet on a frozen Swin-B (ImageNet-22K; HSNet's and DCAMA's backbone), PASCAL-5i fold 0,
# 1-shot: the backbone starts from the ImageNet release (no stage-1 PSPNet, as HSNet and DCAMA
# freeze the pretrained Swin), message flow on levels 2 + 3, channels read from the backbone.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py', '../_base_/backbones/swin-b.py']
stage1_checkpoint = None
model = dict(
    backbone={{_base_.swin_b}},
    necks=[
        dict(type='PriorMaskNeck', in_index=3, prior_key='prior'),
        dict(type='MessageFlowNeck', in_channels='auto', in_index=[1, 2], channels=256,
             flows=('inner', 'cross'), num_rounds=1),
        dict(type='PartialOTMatchingNeck', in_index=-1, transport='partial', mass_scale=1.0,
             supply='object', eps=0.05, num_iters=30, prior_key='ot_prior')
    ],
    decode_head=dict(in_channels='auto'))
