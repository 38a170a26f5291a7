import importlib.util
import json

import pytest
from PIL import Image

from ...conftest import REPO

_spec = importlib.util.spec_from_file_location('plot_logs',
                                               f'{REPO}/tools/analysis_tools/plot_logs.py')
plot_logs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plot_logs)


def _run(root, stamp, records):
    path = root / stamp / 'vis_data'
    path.mkdir(parents=True)
    (path / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in records) + '\n')


class TestPlotLogs:

    def test_curves_from_work_dirs(self, tmp_path, capsys):
        a, b = tmp_path / 'a', tmp_path / 'b'
        _run(a, '20260101_000000', [dict(loss=1.0, iter=10, step=10),
                                    dict(loss=0.5, iter=20, step=20), dict(mIoU=40.0, step=20)])
        _run(a, '20260102_000000', [dict(loss=0.4, iter=30, step=30)])  # resumed run
        _run(b, '20260101_000000', [dict(loss=0.9, iter=10, step=10), dict(mIoU=45.0, step=10)])
        series = plot_logs.load_series(plot_logs.scalar_files(str(a)))
        assert series['loss'] == [(10.0, 1.0), (20.0, 0.5), (30.0, 0.4)]
        assert series['mIoU'] == [(20.0, 40.0)]
        out = tmp_path / 'curves.png'
        assert plot_logs.main([str(a), str(b), '--out', str(out)]) == 0
        with Image.open(out) as img:
            assert img.size == (1000, 360)
        assert 'loss, mIoU for 2 run(s)' in capsys.readouterr().out

    def test_errors(self, tmp_path):
        with pytest.raises(SystemExit, match='no \\*/vis_data/scalars.json'):
            plot_logs.main([str(tmp_path)])
        _run(tmp_path, 's', [dict(loss=1.0, step=1)])
        with pytest.raises(SystemExit, match=r"keys \['mIoU'\] are in no run; available: "
                                             r"\['loss'\]"):
            plot_logs.main([str(tmp_path), '--out', str(tmp_path / 'x.png')])
        assert not (tmp_path / 'x.png').exists()
        bad = tmp_path / 's' / 'vis_data' / 'scalars.json'
        bad.write_text('{"loss": 1, "step": 1}\nnope\n')
        with pytest.raises(SystemExit, match='scalars.json:2: not a JSON record'):
            plot_logs.main([str(tmp_path)])
