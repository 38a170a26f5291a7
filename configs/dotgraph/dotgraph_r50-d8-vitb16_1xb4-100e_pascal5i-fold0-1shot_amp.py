# DOTGraph on PASCAL-5i fold 0, 1-shot, trained in mixed precision: bfloat16 autocast where
# the GPU computes it (Ampere and newer), else float16 with dynamic loss scaling; BAM's Gram
# matrix, the CLIP Grad-CAM and its refinement, and the OT costs, plans and messages stay
# float32. The same as `tools/train.py CONFIG --amp` on the base config.
_base_ = ['./dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py']
optim_wrapper = dict(type='MixedPrecisionOptimWrapper', dtype='auto')
