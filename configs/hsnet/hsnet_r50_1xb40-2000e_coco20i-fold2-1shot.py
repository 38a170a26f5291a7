_base_ = ['./hsnet_r50_1xb40-2000e_coco20i-fold0-1shot.py']
fold = 2
released_checkpoint = 'pretrain/hsnet_resnet50_coco_fold2.pth'
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(
    dataset=dict(fold=fold, hsnet_split_file='data/coco/hsnet_val_fold2.txt'))
test_dataloader = val_dataloader
