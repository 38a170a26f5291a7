# PASCAL-5i under BAM's protocol (BAM test.py): PFENet's sampler and geometry (pascal5i.py), 1000
# episodes per seed, seeds [510, 365, 382, 322, 988]; the dataset's seed is the first, and
# `tools/test.py --seeds` evaluates all five and reports their mean and standard deviation.
_base_ = ['./pascal5i.py']
val_dataloader = dict(dataset=dict(protocol='bam'))
test_dataloader = val_dataloader
