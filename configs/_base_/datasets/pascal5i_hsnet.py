# PASCAL-5i under HSNet's protocol (HSNet data/pascal.py, test.py): the 1000 episodes of its split
# files (shipped) drawn after np.random.seed(0); query and supports stretched to 400x400, the
# query label resized with nearest to 400x400 and scored there (ProtocolTestResize with
# use_original_imgsize=True scores at the original size instead).
_base_ = ['./pascal5i.py']
val_dataloader = dict(dataset=dict(protocol='hsnet'))
test_dataloader = val_dataloader
