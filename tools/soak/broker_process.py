"""The broker process the soak scripts start, SIGKILL and restart.

Shared by amqp_soak.py, kafka_soak.py and mqtt_soak.py so that every soak starts the
broker the same way: one process at a time on a fixed data directory, the protocol under
test on the given port and the other listeners on the next ones (so two soaks on
different ports never collide), its log appended to one file across restarts.
"""

import os
import signal
import subprocess

# The order of listeners after the protocol under test; each takes the next port.
_OTHERS = ("http", "amqp", "kafka", "mqtt")


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class BrokerProcess:
    """One broker process at a time on a fixed data directory and fixed ports."""

    def __init__(self, protocol, binary, data_dir, port, settings, log_path):
        self.binary = binary
        self.data_dir = data_dir
        self.port = port
        self.ports = {protocol: port}
        for name in _OTHERS:
            if name not in self.ports:
                self.ports[name] = port + len(self.ports)
        self.settings = settings
        self.log_path = log_path
        self.proc = None

    def spawn(self):
        cmd = [self.binary, "serve", "--data-dir", self.data_dir]
        for name, port in self.ports.items():
            cmd += [f"--{name}-listen", f"127.0.0.1:{port}"]
        for s in self.settings:
            cmd += ["--set", s]
        env = dict(os.environ)
        env.pop("RUST_LOG", None)
        env.setdefault("TRIDENT_LOG", "warn")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None
