# Table VIII: weak supervision at test time, bounding boxes of the support objects instead of
# their masks (test with a checkpoint of the mask-trained model).
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
val_dataloader = dict(dataset=dict(support_annotation='bbox'))
test_dataloader = val_dataloader
