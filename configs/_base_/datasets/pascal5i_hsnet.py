# PASCAL-5i under HSNet's protocol (HSNet data/pascal.py, test.py): the 1000 episodes of its split
# files (shipped) drawn after np.random.seed(0); query and supports stretched to 400x400, the
# query label resized with nearest to 400x400 and scored there (use_original_imgsize=True on the
# query's ProtocolTestResize scores at the original size instead).
_base_ = ['./pascal5i.py']
protocol = 'hsnet'
test_size = 400
test_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='ProtocolTestResize', protocol=protocol, size=test_size),
        ],
        support_transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='ProtocolTestResize', protocol=protocol, size=test_size, role='support'),
        ]),
    dict(type='PackEpisodeInputs'),
]
val_dataloader = dict(dataset=dict(protocol=protocol, pipeline=test_pipeline))
test_dataloader = val_dataloader
