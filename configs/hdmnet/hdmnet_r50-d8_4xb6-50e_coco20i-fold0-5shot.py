_base_ = ['./hdmnet_r50-d8_4xb6-50e_coco20i-fold0-1shot.py']
shot = 5
released_checkpoint = 'pretrain/hdmnet_resnet50_coco_split0_5shot.pth'
model = dict(decode_head=dict(shot=shot))
train_dataloader = dict(dataset=dict(shot=shot))
val_dataloader = dict(dataset=dict(shot=shot))
test_dataloader = val_dataloader
