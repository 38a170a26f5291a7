# COCO-20i under BAM's protocol: PFENet's sampler and geometry at 641 (coco20i.py), 1000 episodes
# per seed, BAM's five seeds (`tools/test.py --seeds`).
_base_ = ['./coco20i.py']
val_dataloader = dict(dataset=dict(protocol='bam'))
test_dataloader = val_dataloader
