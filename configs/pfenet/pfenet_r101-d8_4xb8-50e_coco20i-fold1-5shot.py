_base_ = ['./pfenet_r101-d8_4xb8-50e_coco20i-fold1-1shot.py']
shot = 5
train_dataloader = dict(dataset=dict(shot=shot))
val_dataloader = dict(dataset=dict(shot=shot))
test_dataloader = val_dataloader
