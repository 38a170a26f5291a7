# Table I baseline: no message flow, no multi-task backbone (ImageNet), no mask refinement,
# no prior mask, no partial OT: the PPM head on layer2 + layer3 with the support prototype.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='pretrain/pfenet_resnet50_v2.pth',
                                prefix=None)),
    necks=[],
    decode_head=dict(in_channels=[512, 1024], in_index=[1, 2], prior_keys=(), refine_iters=0))
