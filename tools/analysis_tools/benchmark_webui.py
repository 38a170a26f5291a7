"""Time the web page from the browser: click on Segment to the result drawn in the page.

    python tools/analysis_tools/benchmark_webui.py [CONFIG CHECKPOINT] [--screenshot F]

Serves ``tools/webui.py`` with the model (default: the ``make demo`` model, trained first
by ``make demo``), drives it in headless Chromium and times, for the page's two example
episodes (1 class x 1 support + 1 query; 2 classes x 2 supports + 4 queries), the first
click (supports encoded) and a repeated click (supports reused), next to the peer: the same
work through ``FewShotInferencer`` in this process (encode + predict, files read). The
difference is the page's cost (upload of the values, Gradio's processing, pictures and
files written and sent, drawing). Prints one table; the CPU is named in its header.
"""
import argparse
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = ('configs/baseline/fss-baseline_r18w16-d8_1xb8-1.2k_shapes5i-fold0-1shot.py',
        'work_dirs/demo/iter_1200.pth')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('config', nargs='?', default=osp.join(REPO, DEMO[0]))
    parser.add_argument('checkpoint', nargs='?', default=osp.join(REPO, DEMO[1]))
    parser.add_argument('--screenshot', help='save a screenshot of the page after the '
                        'two-class example')
    parser.add_argument('--repeats', type=int, default=3, help='repeated clicks timed')
    return parser.parse_args(argv)


def cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        return f'{names[0]}, {len(names)} logical CPUs'
    except (OSError, IndexError):
        import platform
        return platform.processor() or 'unknown CPU'


def peer_seconds(inferencer, example, repeats):
    """FewShotInferencer on the example's files: (first: encode + predict, reused: predict)."""
    supports = {name: [(img, mask) for img, mask, _ in pairs] for name, pairs in example.classes}
    start = time.perf_counter()
    support_set = inferencer.encode_supports(supports)
    out = inferencer(example.queries, support_set, return_probs=True)
    first = time.perf_counter() - start
    reused = []
    for _ in range(repeats):
        start = time.perf_counter()
        inferencer(example.queries, support_set, return_probs=True)
        reused.append(time.perf_counter() - start)
    return first, min(reused), out


def run(args):
    import tempfile

    from mmfss.apis import FewShotInferencer
    from mmfss.utils import check_checkpoint_file, check_config_file
    from mmfss.webui import shapes5i_examples
    from mmfss.webui.page_driver import PageDriver, served_page
    check_config_file(args.config)
    check_checkpoint_file(args.checkpoint)
    examples = shapes5i_examples(tempfile.mkdtemp(prefix='mmfss-bench-'))
    rows = []
    with served_page(args.config, args.checkpoint) as url, PageDriver(url) as page:
        for i, example in enumerate(examples):
            if i:
                page.fill_example(example.title)
            first = page.segment()
            if ' done in ' not in first['status']:
                raise RuntimeError(f'{example.title}: {first["status"]}')
            again = [page.segment()['seconds'] for _ in range(args.repeats)]
            rows.append([example.title, first['seconds'], min(again)])
            if args.screenshot and i == len(examples) - 1:
                page.screenshot(args.screenshot)
    inferencer = FewShotInferencer(args.config, args.checkpoint, show_progress=False)
    peer_seconds(inferencer, examples[0], 1)  # warm-up, as the page's first example is
    for row, example in zip(rows, examples):
        first, reused, _ = peer_seconds(inferencer, example, args.repeats)
        row += [first, reused]
    print(f'web page latency, click to result in headless Chromium ({cpu_name()}); '
          f'model {osp.basename(args.config)}')
    print(f'{"task":<66} {"page first":>10} {"page again":>10} {"API first":>10} '
          f'{"API again":>10}')
    for title, p1, p2, a1, a2 in rows:
        print(f'{title:<66} {p1:>9.2f}s {p2:>9.2f}s {a1:>9.2f}s {a2:>9.2f}s')
    print('first: supports encoded (the page\'s first click also warms the model up); '
          'again: supports reused; API: FewShotInferencer on the same files, same process '
          'as the peer (no page)')
    if args.screenshot:
        print(f'screenshot: {args.screenshot}')
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
