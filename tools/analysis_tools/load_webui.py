"""Load the web page: concurrent clients, oversize uploads among them, the server's memory.

    python tools/analysis_tools/load_webui.py [CONFIG CHECKPOINT] [--clients 8]
        [--requests 10] [--oversize 8] [--side 20000]

Serves ``tools/webui.py`` with the model (default: the ``make demo`` model) and sends, from
``--clients`` threads at once, ``--requests`` Segment requests each through Gradio's own
client (the page's ``/segment`` endpoint: one class, an uploaded support image and mask,
three query images), with ``--oversize`` uploads of a SIDE x SIDE PNG (about 1.2 MB, 400
megapixels for 20000) sent all at once while the clients run: half as query images (refused
by mmfss's header check), half as a support image in the image editor (decoded by Gradio
with PIL, whose limit the server sets to the page's). The server's resident memory is
sampled every 0.1 s. Prints one table (answered requests, latency, refusals and their time,
memory idle / peak / after) on the CPU named in its header; exit status 1 when a normal
request failed, an oversize upload was not refused, or the server stopped answering.
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import threading
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)
DEMO = ('configs/baseline/fss-baseline_r18w16-d8_1xb8-1.2k_shapes5i-fold0-1shot.py',
        'work_dirs/demo/iter_1200.pth')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('config', nargs='?', default=osp.join(REPO, DEMO[0]))
    parser.add_argument('checkpoint', nargs='?', default=osp.join(REPO, DEMO[1]))
    parser.add_argument('--clients', type=int, default=8)
    parser.add_argument('--requests', type=int, default=10, help='requests per client')
    parser.add_argument('--oversize', type=int, default=8, help='oversize uploads at once')
    parser.add_argument('--side', type=int, default=20000, help='side of the oversize PNG')
    return parser.parse_args(argv)


def rss_mb(pid: int) -> float:
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return float('nan')


class Sampler(threading.Thread):
    """The server's resident memory every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.values, self.stop = pid, interval, [], False

    def run(self) -> None:
        while not self.stop:
            try:
                self.values.append(rss_mb(self.pid))
            except OSError:
                return
            time.sleep(self.interval)


def request_values(example, query_files, support_image=None):
    """The ``/segment`` endpoint's 27 values: one class, one support (editor + mask file)."""
    from gradio_client import handle_file

    from mmfss.webui.callbacks import MAX_SHOTS, MAX_WAYS
    (name, supports), = example.classes[:1]
    image, mask, _ = supports[0]
    editor = dict(background=handle_file(support_image or image), layers=[], composite=None)
    slots = [editor, handle_file(mask)] + [None] * (2 * MAX_WAYS * MAX_SHOTS - 2)
    return ([name] + [''] * (MAX_WAYS - 1) + slots +
            [[handle_file(q) for q in query_files], '', None, '', None, 0.5])


def main(argv=None) -> int:
    args = parse_args(argv)
    import tempfile

    from gradio_client import Client

    from mmfss.webui import shapes5i_examples
    from mmfss.webui.page_driver import served_page
    from tools.analysis_tools.benchmark_bad_input import cpu_name, oversize_png
    example = next(e for e in shapes5i_examples(tempfile.mkdtemp(prefix='mmfss-load-'))
                   if len(e.classes) > 1)
    queries = list(example.queries)[:3]
    huge = oversize_png(args.side)
    pids: list = []
    results, oversize = [], []
    with served_page(args.config, args.checkpoint, pids=pids) as url:
        warm = Client(url, verbose=False).predict(*request_values(example, queries),
                                                  api_name='/segment')[0]
        if ' done in ' not in warm:
            raise RuntimeError(f'warm-up request failed: {warm}')
        time.sleep(1)
        idle = rss_mb(pids[0])
        sampler = Sampler(pids[0])
        sampler.start()

        def client_loop(index):
            client = Client(url, verbose=False)
            for _ in range(args.requests):
                start = time.perf_counter()
                status = client.predict(*request_values(example, queries),
                                        api_name='/segment')[0]
                results.append((' done in ' in status, time.perf_counter() - start, status))

        def oversize_once(index):
            client = Client(url, verbose=False)
            as_query = index % 2 == 0
            values = (request_values(example, [huge]) if as_query else
                      request_values(example, queries, support_image=huge))
            start = time.perf_counter()
            try:
                status = client.predict(*values, api_name='/segment')[0]
                refused = ' error: ' in status and f'{args.side}x{args.side}' in status
            except Exception as err:  # noqa: BLE001  Gradio's own refusal (PIL's limit)
                status, refused = f'{type(err).__name__}: {err}', True
            oversize.append(('query' if as_query else 'editor', refused,
                             time.perf_counter() - start, status))

        threads = [threading.Thread(target=client_loop, args=(i, ))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        time.sleep(2)  # the oversize uploads land while the clients are running
        bursts = [threading.Thread(target=oversize_once, args=(i, ))
                  for i in range(args.oversize)]
        for t in bursts:
            t.start()
        for t in threads + bursts:
            t.join()
        after = Client(url, verbose=False).predict(*request_values(example, queries),
                                                   api_name='/segment')[0]
        time.sleep(1)
        sampler.stop = True
        sampler.join()
        end = rss_mb(pids[0])
    ok = [r for r in results if r[0]]
    refused = [o for o in oversize if o[1]]
    print(f'web page under load: {args.clients} clients x {args.requests} requests, '
          f'{args.oversize} uploads of a {args.side}x{args.side} PNG '
          f'({osp.getsize(huge) / 1e6:.2f} MB) at once among them; {cpu_name()}')
    print('| what | value |')
    print('| --- | --- |')
    print(f'| requests answered with results | {len(ok)} of {len(results)} |')
    if ok:
        latencies = [r[1] for r in ok]
        print(f'| request latency, median / max (s) | {statistics.median(latencies):.2f} / '
              f'{max(latencies):.2f} |')
    for where in ('query', 'editor'):
        rows = [o for o in oversize if o[0] == where]
        if rows:
            print(f'| oversize as {where}: refused | {sum(o[1] for o in rows)} of {len(rows)} '
                  f'(slowest answer {max(o[2] for o in rows):.2f} s) |')
    print(f'| server memory idle / peak / after (MB) | {idle:.0f} / '
          f'{max(sampler.values or [idle]):.0f} / {end:.0f} |')
    print(f'| request after the load | {"answered" if " done in " in after else after} |')
    for o in oversize[:2]:
        print(f'oversize as {o[0]}: {o[3][:200]}')
    failed = (len(ok) < len(results) or len(refused) < len(oversize)
              or ' done in ' not in after)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
