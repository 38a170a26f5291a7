_base_ = ['./pfenet_vgg16_4xb8-50e_coco20i-fold0-1shot.py']
fold = 3
released_checkpoint = 'pretrain/pfenet_vgg16_coco_split3.pth'
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
