# CPU-sized CMNet on Shapes-5i (fold 0, 1-shot): the demo's half-width ResNet-18 and schedule
# with CMNet's modules: PFENet prior mask, message flow (inner + cross, 64-d nodes on
# layer2 + layer3), partial OT matching prior and 2 mask-refinement iterations. There is no
# pretrained backbone to start from here, so, like the baseline it is compared with, the
# backbone trains end to end (no stage 1); the two-stage recipe is for the real benchmarks.
_base_ = ['../baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
prior_neck = dict(type='PriorMaskNeck', in_index=3, prior_key='prior')
mfm_neck = dict(type='MessageFlowNeck', in_channels=[64, 128], in_index=[1, 2], channels=64,
                flows=('inner', 'cross'), num_rounds=1)
ot_neck = dict(type='PartialOTMatchingNeck', in_index=-1, transport='partial', eps=0.05,
               num_iters=30, prior_key='ot_prior')
model = dict(
    necks=[prior_neck, mfm_neck, ot_neck],
    decode_head=dict(
        in_channels=[64], in_index=[-1], prior_keys=('prior', 'ot_prior'), refine_iters=2))
