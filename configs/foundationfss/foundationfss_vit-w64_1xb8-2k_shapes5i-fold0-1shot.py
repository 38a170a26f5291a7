# CPU-sized FoundationFSS on Shapes-5i (fold 0, 1-shot): a 4-block, 64-wide ViT/14 in DINOv2's
# layout trained from scratch (nothing to download), its 4 blocks the correlation channels of
# FoundationFSS's learner, supports masked at the input; 96 crops are padded to 98 (7x7
# tokens). The Shapes-5i schedule of the other methods.
_base_ = [
    '../_base_/models/foundationfss_dinov2-b14.py', '../_base_/datasets/shapes5i.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_2k.py'
]
data_preprocessor = dict(size=(96, 96))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(_delete_=True, type='DINOv2',
                  arch=dict(embed_dims=64, num_layers=4, num_heads=2), img_size=98,
                  out_indices=(0, 1, 2, 3)),
    freeze_backbone=False,
    decode_head=dict(num_levels=4))
randomness = dict(seed=0)
