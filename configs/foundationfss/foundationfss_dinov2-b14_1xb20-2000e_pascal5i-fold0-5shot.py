_base_ = ['./foundationfss_dinov2-b14_1xb20-2000e_pascal5i-fold0-1shot.py']
shot = 5
val_dataloader = dict(dataset=dict(shot=shot))
test_dataloader = val_dataloader
