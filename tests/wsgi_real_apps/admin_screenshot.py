"""Logs into the Django admin with headless Chromium and takes a screenshot, for
tests/wsgi_real_apps.rs. Standard library only: the Chrome DevTools Protocol over
--remote-debugging-pipe (JSON messages ending in NUL; Chromium reads fd 3, writes fd 4).

    admin_screenshot.py CHROMIUM BASE_URL USERNAME PASSWORD PNG_OUT PROFILE_DIR [TIMEOUT_S]

The browser opens BASE_URL/admin/login/, the form is filled in and submitted (a real POST with
the browser's csrftoken cookie and the form's csrfmiddlewaretoken), and once the page after the
redirect has loaded, prints one JSON object on stdout: the page's url, title and text
(innerText), the computed background colour of #header (the admin's CSS, from --static) and the
list of the page's resources with their HTTP statuses; the PNG goes to PNG_OUT. Exits non-zero
with a message on stderr when anything fails or TIMEOUT_S (default 60) passes.
"""
import base64
import fcntl
import json
import os
import select
import subprocess
import sys
import time


class Browser:
    def __init__(self, chromium, profile, deadline):
        self.deadline = deadline
        # High descriptors first, so that the dup2 to 3 and 4 in the child cannot clobber them.
        to_chrome_r, to_chrome_w = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in os.pipe())
        from_chrome_r, from_chrome_w = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in os.pipe())

        def child_fds():
            os.dup2(to_chrome_r, 3)  # os.dup2 makes the copies inheritable
            os.dup2(from_chrome_w, 4)

        self.stderr = open(os.path.join(profile, 'chromium-stderr.txt'), 'wb')
        self.proc = subprocess.Popen(
            [chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
             '--no-first-run', '--disable-background-networking', '--disable-component-update',
             '--disable-sync', '--hide-scrollbars', '--remote-debugging-pipe',
             f'--user-data-dir={profile}', 'about:blank'],
            stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr,
            close_fds=False, preexec_fn=child_fds)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.w = to_chrome_w
        self.r = from_chrome_r
        self.buf = b''
        self.next_id = 0
        self.events = []

    def _read_message(self):
        while b'\0' not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no answer from Chromium in time')
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            data = os.read(self.r, 1 << 20)
            if not data:
                raise EOFError('Chromium closed the DevTools pipe')
            self.buf += data
        msg, _, self.buf = self.buf.partition(b'\0')
        return json.loads(msg)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {'id': self.next_id, 'method': method, 'params': params or {}}
        if session:
            msg['sessionId'] = session
        data = json.dumps(msg).encode() + b'\0'
        while data:
            n = os.write(self.w, data)
            data = data[n:]
        while True:
            m = self._read_message()
            if m.get('id') == self.next_id:
                if 'error' in m:
                    raise RuntimeError(f'{method}: {m["error"]}')
                return m.get('result', {})
            if 'method' in m:
                self.events.append(m)

    def wait_event(self, method, session):
        """The first event `method` of `session` not consumed yet (earlier ones are dropped)."""
        while True:
            while self.events:
                m = self.events.pop(0)
                if m['method'] == method and m.get('sessionId') == session:
                    return m.get('params', {})
            m = self._read_message()
            if 'method' in m:
                self.events.append(m)

    def close(self):
        try:
            if self.proc.poll() is None:
                self.call('Browser.close')
                self.proc.wait(timeout=max(1.0, self.deadline - time.monotonic()))
        except Exception:
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.stderr.close()


def main():
    chromium, base, user, password, png_out, profile = sys.argv[1:7]
    timeout = float(sys.argv[7]) if len(sys.argv) > 7 else 60.0
    deadline = time.monotonic() + timeout
    os.makedirs(profile, exist_ok=True)
    b = Browser(chromium, profile, deadline)
    try:
        target = b.call('Target.createTarget', {'url': 'about:blank'})['targetId']
        s = b.call('Target.attachToTarget', {'targetId': target, 'flatten': True})['sessionId']
        b.call('Emulation.setDeviceMetricsOverride',
               {'width': 1280, 'height': 800, 'deviceScaleFactor': 1, 'mobile': False}, s)
        b.call('Page.enable', session=s)
        b.call('Runtime.enable', session=s)

        def evaluate(expr):
            r = b.call('Runtime.evaluate', {'expression': expr, 'returnByValue': True}, s)
            if 'exceptionDetails' in r:
                raise RuntimeError(f'{expr}: {r["exceptionDetails"]}')
            return r['result'].get('value')

        nav = b.call('Page.navigate', {'url': base + '/admin/login/?next=/admin/'}, s)
        if nav.get('errorText'):
            raise RuntimeError(f'navigate: {nav["errorText"]}')
        b.wait_event('Page.loadEventFired', s)
        login_title = evaluate('document.title')
        evaluate(
            'document.getElementById("id_username").value = %s;'
            'document.getElementById("id_password").value = %s;'
            'document.getElementById("login-form").submit(); true'
            % (json.dumps(user), json.dumps(password)))
        b.wait_event('Page.loadEventFired', s)
        page = evaluate('''({
            url: location.href,
            title: document.title,
            text: document.body.innerText,
            header_bg: getComputedStyle(document.getElementById("header")).backgroundColor,
            resources: performance.getEntriesByType("resource")
                .map(e => [e.name, e.responseStatus === undefined ? null : e.responseStatus]),
        })''')
        page['login_title'] = login_title
        shot = b.call('Page.captureScreenshot', {'format': 'png'}, s)
        with open(png_out, 'wb') as f:
            f.write(base64.b64decode(shot['data']))
        json.dump(page, sys.stdout)
        sys.stdout.write('\n')
    finally:
        b.close()


if __name__ == '__main__':
    try:
        main()
    except Exception as e:  # one line for the test's failure message
        print(f'admin_screenshot.py: {type(e).__name__}: {e}', file=sys.stderr)
        try:
            with open(os.path.join(sys.argv[6], 'chromium-stderr.txt'), 'rb') as f:
                tail = f.read()[-4000:].decode('utf-8', 'replace')
            print(f'chromium stderr (end):\n{tail}', file=sys.stderr)
        except OSError:
            pass
        sys.exit(1)
