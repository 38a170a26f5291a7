_base_ = ['./pfenet_r101-d8_4xb8-50e_coco20i-fold0-1shot.py']
fold = 3
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
