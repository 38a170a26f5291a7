_base_ = ['./cmnet_r50-d8_1xb4-100e_fss1000-1shot.py']
shot = 5
train_dataloader = dict(dataset=dict(shot=shot))
val_dataloader = dict(dataset=dict(shot=shot))
test_dataloader = dict(dataset=dict(shot=shot))
