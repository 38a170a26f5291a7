_base_ = ['./pfenet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
fold = 1
released_checkpoint = 'pretrain/pfenet_resnet50_pascal_split1.pth'
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
