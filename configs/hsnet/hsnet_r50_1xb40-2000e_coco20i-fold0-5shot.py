# HSNet trains 1-shot and tests 5-shot with the same model, voting over the shots.
_base_ = ['./hsnet_r50_1xb40-2000e_coco20i-fold0-1shot.py']
val_dataloader = dict(dataset=dict(shot=5))
test_dataloader = val_dataloader
