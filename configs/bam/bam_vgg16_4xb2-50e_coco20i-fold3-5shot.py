_base_ = ['./bam_vgg16_4xb2-50e_coco20i-fold3-1shot.py']
shot = 5
released_checkpoint = 'pretrain/bam_vgg_coco_split3_5shot.pth'
model = dict(decode_head=dict(shot=shot))
train_dataloader = dict(dataset=dict(shot=shot))
val_dataloader = dict(dataset=dict(shot=shot))
test_dataloader = val_dataloader
