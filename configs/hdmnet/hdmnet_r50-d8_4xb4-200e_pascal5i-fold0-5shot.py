_base_ = ['./hdmnet_r50-d8_4xb4-200e_pascal5i-fold0-1shot.py']
shot = 5
model = dict(decode_head=dict(shot=shot))
train_dataloader = dict(dataset=dict(shot=shot))
val_dataloader = dict(dataset=dict(shot=shot))
test_dataloader = val_dataloader
