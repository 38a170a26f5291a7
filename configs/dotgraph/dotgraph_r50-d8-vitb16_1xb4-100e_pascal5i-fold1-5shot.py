_base_ = ['./dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold1-1shot.py']
shot = 5
# BAM's K-shot reweighting (a learned kshot_rw for K = 5)
model = dict(decode_head=dict(shot=shot))
train_dataloader = dict(dataset=dict(shot=shot))
val_dataloader = dict(dataset=dict(shot=shot))
test_dataloader = val_dataloader
