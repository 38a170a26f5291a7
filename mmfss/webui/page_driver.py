"""Drive the web page in a real browser: headless Chromium through Selenium.

Used by the page's end-to-end test and by ``tools/analysis_tools/benchmark_webui.py``. It
starts ``tools/webui.py`` as a separate process (as a user does), drives Debian's
``chromium`` with its ``chromedriver`` (no browser is downloaded) and reads the results
back from the page: the status line and the mask PNGs offered for download.
"""
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence

__all__ = ['find_chromium', 'free_port', 'served_page', 'PageDriver']

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# flags for a closed network: no background connections, no first-run or sync requests
CHROMIUM_FLAGS = ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
                  '--no-first-run', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync', '--window-size=1400,2200')


def find_chromium() -> Dict[str, str]:
    """Paths of the Chromium binary and its driver.

    Raises:
        FileNotFoundError: either is missing (says which Debian packages to install).
    """
    found = dict(chromium=shutil.which('chromium') or shutil.which('chromium-browser'),
                 chromedriver=shutil.which('chromedriver'))
    missing = [k for k, v in found.items() if not v]
    if missing:
        raise FileNotFoundError(
            f'{" and ".join(missing)} not found: the browser test drives Debian\'s Chromium '
            '(apt-get install chromium chromium-driver; make install-tests does it as root)')
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@contextmanager
def served_page(config: str, checkpoint: str, port: Optional[int] = None,
                timeout: float = 240, log_file: Optional[str] = None,
                extra_args: Sequence[str] = (), pids: Optional[list] = None) -> Iterator[str]:
    """Run ``tools/webui.py CONFIG CHECKPOINT`` on 127.0.0.1 and yield its address.

    The server is stopped (SIGTERM, then SIGKILL) when the block ends. ``extra_args`` go to
    ``tools/webui.py``; a ``pids`` list receives the server's process id.

    Raises:
        RuntimeError: the server exited or printed no address within ``timeout`` seconds
            (the message holds the end of its output).
    """
    port = port or free_port()
    log_file = log_file or tempfile.mktemp(prefix='mmfss-webui-', suffix='.log')
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False', PYTHONUNBUFFERED='1')
    with open(log_file, 'w') as log:
        proc = subprocess.Popen([sys.executable, osp.join(REPO, 'tools', 'webui.py'), config,
                                 checkpoint, '--host', '127.0.0.1', '--port', str(port),
                                 *extra_args],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    if pids is not None:  # the server's process id, for callers that measure it
        pids.append(proc.pid)
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + timeout
        while True:
            with open(log_file) as f:
                text = f.read()
            if url in text:
                break
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f'tools/webui.py did not serve {url} (exit code '
                                   f'{proc.poll()}); its output ends:\n{text[-3000:]}')
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PageDriver:
    """One headless Chromium on the page at ``url``.

    Args:
        url (str): The page's address.
        timeout (float): Seconds to wait for the page and for each result.
    """

    def __init__(self, url: str, timeout: float = 120) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        paths = find_chromium()
        options = webdriver.ChromeOptions()
        options.binary_location = paths['chromium']
        self._profile = tempfile.mkdtemp(prefix='mmfss-chromium-')
        for flag in CHROMIUM_FLAGS + (f'--user-data-dir={self._profile}', ):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(paths['chromedriver']), options=options)
        self.timeout = timeout
        self.url = url
        self.driver.get(url)
        self.wait_for(lambda: self.driver.find_elements('id', 'segment'), 'the Segment button')

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> 'PageDriver':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers
    def wait_for(self, condition, what: str, timeout: Optional[float] = None):
        deadline = time.time() + (timeout or self.timeout)
        while True:
            value = condition()
            if value:
                return value
            if time.time() > deadline:
                raise TimeoutError(f'the page showed no {what} within '
                                   f'{timeout or self.timeout} s')
            time.sleep(0.05)

    def css(self, selector: str) -> List:
        return self.driver.find_elements('css selector', selector)

    def open_tab(self, way: int) -> None:
        """Show the tab of class ``way`` (1-based)."""
        buttons = [b for b in self.css('button[role="tab"]') if b.text.strip() ==
                   f'Class {way}']
        if buttons:
            buttons[0].click()
            time.sleep(0.3)

    def clear_editor(self, elem_id: str) -> None:
        """Empty an image editor (its 'Clear canvas' button), image and drawing."""
        buttons = self.css(f'#{elem_id} button[aria-label="Clear canvas"]')
        if buttons:
            buttons[0].click()
            time.sleep(0.3)

    def clear_files(self, elem_id: str) -> None:
        """Empty a file upload component."""
        for button in self.css(f'#{elem_id} button[aria-label="Clear"]'):
            button.click()
            time.sleep(0.2)

    def upload(self, elem_id: str, paths: Sequence[str]) -> None:
        """Upload files into the component ``elem_id`` and wait until the page shows them."""
        inputs = self.wait_for(lambda: self.css(f'#{elem_id} input[type=file]'),
                               f'file input in #{elem_id}')
        inputs[0].send_keys('\n'.join(osp.abspath(p) for p in paths))
        time.sleep(0.5)

    def fill_example(self, title: str) -> None:
        """Choose an example in the example chooser and fill the page with it."""
        box = self.css('#example input')[0]
        box.click()
        option = self.wait_for(lambda: [o for o in self.css('li[role="option"], '
                                                             'ul.options li')
                                        if o.text.strip() == title], f'option {title!r}')
        option[0].click()
        time.sleep(0.3)
        self.css('#fill')[0].click()
        # the first class's name and every filled slot arrive with one update
        time.sleep(2.0)

    def fill(self, elem_id: str, text: str) -> None:
        box = self.css(f'#{elem_id} input, #{elem_id} textarea')[0]
        box.clear()
        box.send_keys(text)

    def status(self) -> str:
        boxes = self.css('#status textarea')
        return boxes[0].get_attribute('value') if boxes else ''

    def segment(self) -> Dict:
        """Click Segment and wait for the new status line.

        Returns:
            dict: ``status`` (the line), ``seconds`` (click to result, measured here).
        """
        before = self.status()
        button = self.css('#segment')[0]
        start = time.perf_counter()
        button.click()
        status = self.wait_for(
            lambda: (lambda s: s if s and s != before and (' done in ' in s or ' error: '
                                                           in s) else None)(self.status()),
            'new status line')
        seconds = time.perf_counter() - start
        # the galleries and files come with the same update: wait until they are drawn
        if ' done in ' in status:
            self.wait_for(lambda: self.css('#downloads a'), 'download links')
        return dict(status=status, seconds=seconds)

    def downloads(self) -> Dict[str, bytes]:
        """The files the page offers for download, by file name."""
        files = {}
        for link in self.css('#downloads a'):
            href = link.get_attribute('href')
            if not href or '/file=' not in href:
                continue
            name = osp.basename(urllib.request.url2pathname(href.split('/file=')[-1]))
            with urllib.request.urlopen(href, timeout=30) as response:
                files[name] = response.read()
        return files

    def screenshot(self, path: str) -> str:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        height = self.driver.execute_script('return document.body.scrollHeight')
        self.driver.set_window_size(1400, min(max(int(height) + 100, 1200), 4000))
        self.driver.save_screenshot(path)
        return path
