_base_ = ['./pfenet_r50-d8_1xb4-200e_pascal5i-fold3-1shot.py']
shot = 5
train_dataloader = dict(dataset=dict(shot=shot))
val_dataloader = dict(dataset=dict(shot=shot))
test_dataloader = val_dataloader
