import json

import pytest

from mmfss.datasets import fss1000_split_classes
from tests.data_trees import fss_tree
from ._load import load_converter

fss1000 = load_converter('fss1000')


class TestFSS1000Checker:

    def test_complete_tree(self, tmp_path, capsys):
        splits = fss1000_split_classes()
        fss_tree(tmp_path, [c for v in splits.values() for c in v], n_images=2, size=(8, 8))
        assert fss1000.main([str(tmp_path), '--expect', '2']) == 0
        out = capsys.readouterr().out
        assert '240/240 class folders present' in out and 'tree complete' in out

    def test_reports_what_is_missing(self, tmp_path, capsys):
        splits = fss1000_split_classes()
        test = splits['test']
        fss_tree(tmp_path, test, n_images=3, size=(8, 8))
        (tmp_path / test[0] / '2.png').unlink()  # image without mask
        (tmp_path / test[1] / '3.jpg').unlink()  # mask without image
        (tmp_path / test[2] / '1.jpg').write_bytes(b'broken')
        (tmp_path / 'not_a_class').mkdir()
        report = tmp_path / 'report.json'
        assert fss1000.main([str(tmp_path), '--expect', '3', '--report', str(report)]) == 1
        out = capsys.readouterr().out
        assert '0/520 class folders present' in out and 'tree INCOMPLETE' in out
        assert '240/240 class folders present, 1 images without mask, 1 masks without ' \
               'image, 1 unreadable, 2 classes with fewer than 3 images' in out
        found = json.loads(report.read_text())
        assert found['test'][test[0]]['images_without_mask'] == [f'{test[0]}/2.jpg']
        assert found['test'][test[1]]['masks_without_image'] == [f'{test[1]}/3.png']
        assert found['test'][test[2]]['unreadable'] == [f'{test[2]}/1.jpg']
        assert len(found['train']) == 520 and found['not_in_any_split'] == ['not_a_class']
        with pytest.raises(SystemExit, match='report.json exists'):
            fss1000.main([str(tmp_path), '--report', str(report)])
        assert fss1000.main([str(tmp_path), '--expect', '3', '--report', str(report),
                             '--overwrite']) == 1
