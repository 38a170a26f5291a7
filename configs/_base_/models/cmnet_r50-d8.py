# CMNet (Liu et al.): frozen dilated ResNet-50 (1/8; CMNet stage 2 loads the stage-1 backbone,
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
    supply='object',
    eps=0.05,
    # the matched mass is M exactly at any iteration count with the object's supply; 30
    # iterations bring the prior (flow / demand) to <= 1.02 at N = 3600 (1.06 after 10;
    # tools/analysis_tools/partial_ot_mass.py)
    num_iters=30,
    prior_key='ot_prior')
model = dict(
    necks=[prior_neck, mfm_neck, ot_neck],
    decode_head=dict(
        in_channels=[256], in_index=[-1], prior_keys=('prior', 'ot_prior'), refine_iters=2,
        align_corners=True))  # PFENet's resizes (model/PFENet.py), CMNet's reference line
