# PI-CLIP on PASCAL-5i fold 0, 1-shot, with its recipe (config/pascal/
# pascal_split0_resnet50_manet.yaml: HDMNet's AdamW lr 1e-4, 10x for the reductions and merges,
# batch 8 on one GPU, 200 epochs, 473 crops; its README says the paper's models trained 30
# epochs: set max_epochs to compare) under BAM's protocol. Its visual-text prior reads the
# classes annotated in each query (prompt_classes='query_labels'), as PI-CLIP's code does:
# numbers made with this config are PI-CLIP's setting, not a label-free few-shot prediction.
# Backbone and base learner: BAM's PSPNet of this fold; CLIP: OpenAI's ViT-B/16.
_base_ = [
    '../_base_/models/piclip_r50-d8.py', '../_base_/datasets/pascal5i_bam.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_200e.py'
]
base_learner_checkpoint = 'pretrain/bam_pspnet_resnet50_pascal_split0.pth'
data_preprocessor = dict(size=(473, 473))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='backbone.')),
    decode_head=dict(
        base_learner_init=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='decode_head.')))
optim_wrapper = {{_base_.hdmnet_optim_wrapper}}
train_dataloader = dict(
    batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True, dataset=dict(filter_novel_images=True))
