# Table I: without the mask refinement.
_base_ = ['./cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py']
model = dict(decode_head=dict(refine_iters=0))
