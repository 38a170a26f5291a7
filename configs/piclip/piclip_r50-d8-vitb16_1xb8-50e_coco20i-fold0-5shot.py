_base_ = ['./piclip_r50-d8-vitb16_1xb8-50e_coco20i-fold0-1shot.py']
shot = 5
# the visual-visual prior has one map per CLIP block and shot: 2 + 2 x 5 prior channels
model = dict(decode_head=dict(shot=shot, meta_head=dict(prior_channels=12)))
train_dataloader = dict(dataset=dict(shot=shot))
val_dataloader = dict(dataset=dict(shot=shot))
test_dataloader = val_dataloader
