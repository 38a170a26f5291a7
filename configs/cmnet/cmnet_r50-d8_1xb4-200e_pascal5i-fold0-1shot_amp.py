# CMNet on PASCAL-5i fold 0, 1-shot, trained in mixed precision: bfloat16 autocast where the
# GPU computes it (Ampere and newer), else float16 with dynamic loss scaling; the OT costs
# and plans stay float32. The same as `tools/train.py CONFIG --amp` on the base config.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
optim_wrapper = dict(type='MixedPrecisionOptimWrapper', dtype='auto')
