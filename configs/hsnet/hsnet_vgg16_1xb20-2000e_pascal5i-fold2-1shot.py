_base_ = ['./hsnet_vgg16_1xb20-2000e_pascal5i-fold0-1shot.py']
fold = 2
released_checkpoint = 'pretrain/hsnet_vgg16_pascal_fold2.pth'
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
