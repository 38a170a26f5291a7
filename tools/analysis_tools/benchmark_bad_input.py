"""Refusing an oversize image: the header check next to decoding first, in one run.

    python tools/analysis_tools/benchmark_bad_input.py [--side 20000] [--repeats 3]

Writes a SIDE x SIDE RGB PNG (one colour: about 1.2 MB for 20000 a side, 400 megapixels)
once into ``~/.cache/mmfss/bench``, then refuses it in a fresh process per repetition,
each way:

* ``decode, then check``: what the web page did before (``mmcv.imread``, then the size
  check on the array) and what ``tools/infer.py`` did with no limit at all;
* ``header check``: :func:`mmfss.datasets.image_reader.read_image` under the page's limit
  (4096 a side), which reads the size from the header and decodes nothing.

Prints the median time and the peak memory over the process's idle size (after imports)
of each, and their ratio; the CPU is named in the header.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys

CHILD = r'''
import json, resource, sys, time
import mmcv
from mmfss.datasets.image_reader import ImageTooLargeError, read_image
path, how = sys.argv[1], sys.argv[2]
idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
refused = False
if how == 'decode':
    img = mmcv.imread(path)
    refused = max(img.shape[:2]) > 4096
else:
    try:
        read_image(path, max_pixels=4096 * 4096, max_side=4096)
    except ImageTooLargeError:
        refused = True
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(seconds=seconds, grown_mb=(peak - idle) / 1024, refused=refused)))
'''


def cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        return f'{names[0]}, {len(names)} logical CPUs'
    except (OSError, IndexError):
        import platform
        return platform.processor() or 'unknown CPU'


def oversize_png(side: int) -> str:
    """The SIDE x SIDE one-colour RGB PNG, written once."""
    folder = osp.join(os.environ.get('MMFSS_CACHE_DIR') or osp.expanduser('~/.cache/mmfss'),
                      'bench')
    path = osp.join(folder, f'oversize_{side}.png')
    if not osp.isfile(path):
        from PIL import Image
        os.makedirs(folder, exist_ok=True)
        Image.new('RGB', (side, side), (200, 120, 40)).save(path + '.tmp.png',
                                                            compress_level=9)
        os.replace(path + '.tmp.png', path)
    return path


def measure(path: str, how: str) -> dict:
    proc = subprocess.run([sys.executable, '-c', CHILD, path, how], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f'{how}: {proc.stderr[-2000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('--side', type=int, default=20000, help='side of the square PNG')
    parser.add_argument('--repeats', type=int, default=3, help='fresh processes per way')
    args = parser.parse_args(argv)
    path = oversize_png(args.side)
    print(f'{args.side}x{args.side} RGB PNG of {osp.getsize(path) / 1e6:.2f} MB; '
          f'{cpu_name()}')
    rows = {}
    for _ in range(args.repeats):  # alternate the two ways
        for how in ('decode', 'header'):
            rows.setdefault(how, []).append(measure(path, how))
    names = {'decode': 'decode, then check (before)', 'header': 'header check (mmfss)'}
    print(f'| way | refused | time, median (s) | peak memory over idle, max (MB) |')
    print('| --- | --- | --- | --- |')
    for how, runs in rows.items():
        print(f'| {names[how]} | {all(r["refused"] for r in runs)} | '
              f'{statistics.median(r["seconds"] for r in runs):.4f} | '
              f'{max(r["grown_mb"] for r in runs):.1f} |')
    ratio = (statistics.median(r['seconds'] for r in rows['decode']) /
             max(statistics.median(r['seconds'] for r in rows['header']), 1e-9))
    print(f'header check is {ratio:.0f}x faster')
    return 0


if __name__ == '__main__':
    sys.exit(main())
