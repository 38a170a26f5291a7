_base_ = ['./pspnet_r50-d8_4xb3-20e_coco20i-base-fold0.py']
fold = 3
train_dataloader = dict(dataset=dict(episodic=dict(fold=fold)))
val_dataloader = dict(dataset=dict(episodic=dict(fold=fold)))
test_dataloader = val_dataloader
