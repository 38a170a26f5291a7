# The baseline on PASCAL-5i fold 0, 1-shot, trained in mixed precision: bfloat16 autocast
# where the GPU computes it (Ampere and newer), else float16 with dynamic loss scaling. The
# same as `tools/train.py CONFIG --amp` on the base config.
_base_ = ['./fss-baseline_r50-d8_4xb4-20k_pascal5i-fold0-1shot.py']
optim_wrapper = dict(type='MixedPrecisionOptimWrapper', dtype='auto')
