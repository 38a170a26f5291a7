# HSNet trains 1-shot and tests 5-shot with the same model, voting over the shots.
_base_ = ['./hsnet_vgg16_1xb20-2000e_pascal5i-fold2-1shot.py']
val_dataloader = dict(dataset=dict(shot=5))
test_dataloader = val_dataloader
