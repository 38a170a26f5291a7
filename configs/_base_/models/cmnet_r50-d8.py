# CMNet (Lu et al.): frozen dilated ResNet-50 (1/8; CMNet stage 2 loads the stage-1 backbone,
# see configs/cmnet) -> PFENet prior mask (layer4) -> message flow (layer2 + layer3 nodes,
# inner + cross flow) -> partial OT matching prior -> PPM head with mask refinement.
_base_ = ['./fss-baseline_r50-d8.py']
prior_neck = dict(type='PriorMaskNeck', in_index=3, prior_key='prior')
mfm_neck = dict(
    type='MessageFlowNeck',
    in_channels=[512, 1024],
    in_index=[1, 2],
    channels=256,
    flows=('inner', 'cross'),
    num_rounds=1)
ot_neck = dict(
    type='PartialOTMatchingNeck',
    in_index=-1,  # the message flow output
    transport='partial',
    mass_scale=1.0,
    eps=0.05,
    num_iters=10,
    prior_key='ot_prior')
model = dict(
    necks=[prior_neck, mfm_neck, ot_neck],
    decode_head=dict(
        in_channels=[256], in_index=[-1], prior_keys=('prior', 'ot_prior'), refine_iters=2))
