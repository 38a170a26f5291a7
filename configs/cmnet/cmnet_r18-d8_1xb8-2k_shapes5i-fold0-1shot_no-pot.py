# Shapes-5i CMNet without the partial OT matching prior (Table I's "POT" row, CPU-sized).
_base_ = ['./cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
model = dict(
    necks=[
        dict(type='PriorMaskNeck', in_index=3, prior_key='prior'),
        dict(type='MessageFlowNeck', in_channels=[64, 128], in_index=[1, 2], channels=64,
             flows=('inner', 'cross'), num_rounds=1)
    ],
    decode_head=dict(prior_keys=('prior', )))
