# The base-class view of COCO-20i: 60 base classes (1..60); novel pixels are background (BAM).
_base_ = ['./pascal5i_base.py']
data_root = 'data/coco'
train_dataloader = dict(
    dataset=dict(episodic=dict(type='COCO20iDataset', data_root=data_root)))
val_dataloader = dict(
    dataset=dict(episodic=dict(type='COCO20iDataset', data_root=data_root)))
test_dataloader = val_dataloader
