"""A tiny MQTT 3.1.1 / 5.0 packet writer and reader over a plain socket, for the tests
that a well-behaved client library cannot express: abnormal disconnects, a client that
stops sending (keep-alive), topic aliases on the wire, and malformed packets.

Only what the tests need is here; every function builds or parses exact bytes so that
a test can say precisely what went over the wire."""

import socket
import struct
import time

# Packet types (first nibble of the fixed header).
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP = 8, 9, 10, 11, 12, 13
DISCONNECT, AUTH = 14, 15

# MQTT 5 property identifiers and their wire types.
PROPS = {
    0x01: ("payload_format", "byte"),
    0x02: ("message_expiry", "u32"),
    0x03: ("content_type", "str"),
    0x08: ("response_topic", "str"),
    0x09: ("correlation_data", "bin"),
    0x0B: ("subscription_id", "varint"),
    0x11: ("session_expiry", "u32"),
    0x12: ("assigned_client_id", "str"),
    0x13: ("server_keep_alive", "u16"),
    0x15: ("auth_method", "str"),
    0x16: ("auth_data", "bin"),
    0x17: ("request_problem_info", "byte"),
    0x18: ("will_delay", "u32"),
    0x19: ("request_response_info", "byte"),
    0x1A: ("response_info", "str"),
    0x1C: ("server_reference", "str"),
    0x1F: ("reason_string", "str"),
    0x21: ("receive_maximum", "u16"),
    0x22: ("topic_alias_maximum", "u16"),
    0x23: ("topic_alias", "u16"),
    0x24: ("maximum_qos", "byte"),
    0x25: ("retain_available", "byte"),
    0x26: ("user_property", "pair"),
    0x27: ("maximum_packet_size", "u32"),
    0x28: ("wildcard_sub_available", "byte"),
    0x29: ("sub_id_available", "byte"),
    0x2A: ("shared_sub_available", "byte"),
}
PROP_IDS = {name: (pid, kind) for pid, (name, kind) in PROPS.items()}


class Closed(Exception):
    """The broker closed the connection."""


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def props(values=None):
    """Encodes a property block from {name: value}; user_property takes a list of pairs,
    subscription_id an int or a list of ints."""
    out = bytearray()
    for name, value in (values or {}).items():
        pid, kind = PROP_IDS[name]
        items = value if isinstance(value, list) else [value]
        for v in items:
            out.append(pid)
            if kind == "byte":
                out.append(v)
            elif kind == "u16":
                out += struct.pack(">H", v)
            elif kind == "u32":
                out += struct.pack(">I", v)
            elif kind == "varint":
                out += varint(v)
            elif kind == "str":
                out += utf8(v)
            elif kind == "bin":
                out += struct.pack(">H", len(v)) + v
            elif kind == "pair":
                out += utf8(v[0]) + utf8(v[1])
    return varint(len(out)) + bytes(out)


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


def connect(client_id, version=5, clean=True, keepalive=60, properties=None, will=None,
            username=None, password=None):
    """CONNECT. `will` is (topic, payload, qos, retain, will_properties)."""
    flags = 0x02 if clean else 0
    payload = utf8(client_id)
    if will:
        topic, body, qos, retain, wprops = (list(will) + [None])[:5]
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        if version == 5:
            payload += props(wprops)
        payload += utf8(topic) + struct.pack(">H", len(body)) + body
    if username is not None:
        flags |= 0x80
        payload += utf8(username)
    if password is not None:
        flags |= 0x40
        payload += struct.pack(">H", len(password)) + password
    var = utf8("MQTT") + bytes([version, flags]) + struct.pack(">H", keepalive)
    if version == 5:
        var += props(properties)
    return packet(CONNECT, 0, var + payload)


def publish(topic, payload, qos=0, pid=None, retain=False, dup=False, version=5,
            properties=None):
    flags = (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = utf8(topic)
    if qos:
        body += struct.pack(">H", pid if pid is not None else 1)
    if version == 5:
        body += props(properties)
    return packet(PUBLISH, flags, body + payload)


def subscribe(pid, filters, version=5, properties=None):
    """`filters` is a list of (filter, options byte) pairs; options is the QoS for 3.1.1."""
    body = struct.pack(">H", pid)
    if version == 5:
        body += props(properties)
    for f, opts in filters:
        body += utf8(f) + bytes([opts])
    return packet(SUBSCRIBE, 0x02, body)


def ack(ptype, pid, reason=None, version=5):
    """PUBACK / PUBREC / PUBREL / PUBCOMP (PUBREL carries the required flags 0b0010)."""
    body = struct.pack(">H", pid)
    if version == 5 and reason is not None:
        body += bytes([reason])
    return packet(ptype, 0x02 if ptype == PUBREL else 0, body)


def pingreq():
    return packet(PINGREQ, 0, b"")


def disconnect(reason=None, version=5, properties=None):
    if version == 5 and reason is not None:
        return packet(DISCONNECT, 0, bytes([reason]) + props(properties))
    return packet(DISCONNECT, 0, b"")


class Packet:
    def __init__(self, ptype, flags, body, version):
        self.type, self.flags, self.body, self.version = ptype, flags, body, version
        self.reason = None
        self.props = {}
        self.session_present = None
        self.pid = None
        self.topic = None
        self.payload = None
        self.qos = None
        self.retain = None
        self.reasons = []
        self._parse()

    def __repr__(self):
        return f"Packet(type={self.type}, reason={self.reason}, props={self.props})"

    def _props(self, at):
        if self.version != 5 or at >= len(self.body):
            return at
        n, at = read_varint(self.body, at)
        self.props = parse_props(self.body[at:at + n])
        return at + n

    def _parse(self):
        b = self.body
        if self.type == CONNACK:
            self.session_present = bool(b[0] & 1)
            self.reason = b[1]
            self._props(2)
        elif self.type == PUBLISH:
            self.qos = (self.flags >> 1) & 3
            self.retain = bool(self.flags & 1)
            n = struct.unpack(">H", b[:2])[0]
            self.topic = b[2:2 + n].decode("utf-8")
            at = 2 + n
            if self.qos:
                self.pid = struct.unpack(">H", b[at:at + 2])[0]
                at += 2
            at = self._props(at)
            self.payload = b[at:]
        elif self.type in (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, SUBACK):
            self.pid = struct.unpack(">H", b[:2])[0]
            if self.type in (SUBACK, UNSUBACK):
                at = self._props(2) if self.version == 5 else 2
                self.reasons = list(b[at:])
            else:
                self.reason = b[2] if len(b) > 2 else 0
                self._props(3)
        elif self.type in (DISCONNECT, AUTH):
            self.reason = b[0] if b else 0
            self._props(1)


def read_varint(buf, at):
    value, mult = 0, 1
    for i in range(4):
        byte = buf[at + i]
        value += (byte & 0x7F) * mult
        if not byte & 0x80:
            return value, at + i + 1
        mult *= 128
    raise ValueError("malformed variable byte integer")


def parse_props(buf):
    out, at = {}, 0
    while at < len(buf):
        pid = buf[at]
        at += 1
        name, kind = PROPS[pid]
        if kind == "byte":
            v, at = buf[at], at + 1
        elif kind == "u16":
            v, at = struct.unpack(">H", buf[at:at + 2])[0], at + 2
        elif kind == "u32":
            v, at = struct.unpack(">I", buf[at:at + 4])[0], at + 4
        elif kind == "varint":
            v, at = read_varint(buf, at)
        elif kind in ("str", "bin"):
            n = struct.unpack(">H", buf[at:at + 2])[0]
            v = buf[at + 2:at + 2 + n]
            v = v.decode("utf-8") if kind == "str" else bytes(v)
            at += 2 + n
        else:
            n = struct.unpack(">H", buf[at:at + 2])[0]
            k = buf[at + 2:at + 2 + n].decode("utf-8")
            at += 2 + n
            m = struct.unpack(">H", buf[at:at + 2])[0]
            v = (k, buf[at + 2:at + 2 + m].decode("utf-8"))
            at += 2 + m
        if name in ("user_property", "subscription_id"):
            out.setdefault(name, []).append(v)
        else:
            out[name] = v
    return out


class Raw:
    """One TCP connection that speaks bytes. `read()` returns the next whole packet."""

    def __init__(self, addr, version=5, timeout=5.0):
        self.version = version
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no packet in time")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no packet in time") from None
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.closed = True
            raise Closed()
        self.buf += chunk

    def read(self, timeout=5.0):
        """The next packet; raises Closed on EOF and TimeoutError when none came."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                try:
                    n, at = read_varint(self.buf, 1)
                except IndexError:
                    n = None
                if n is not None and len(self.buf) >= at + n:
                    first = self.buf[0]
                    body = bytes(self.buf[at:at + n])
                    del self.buf[:at + n]
                    return Packet(first >> 4, first & 0x0F, body, self.version)
            self._fill(deadline)

    def expect(self, ptype, timeout=5.0):
        """Reads until a packet of `ptype` arrives (skipping others)."""
        deadline = time.monotonic() + timeout
        while True:
            p = self.read(max(0.01, deadline - time.monotonic()))
            if p.type == ptype:
                return p

    def handshake(self, client_id, **kw):
        """CONNECT and its CONNACK."""
        self.send(connect(client_id, version=self.version, **kw))
        return self.expect(CONNACK)

    def until_closed(self, timeout=5.0):
        """Packets received until the broker closes the connection; fails on timeout."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                got.append(self.read(max(0.01, deadline - time.monotonic())))
            except Closed:
                return got
            except TimeoutError:
                raise AssertionError(
                    f"the broker did not close the connection within {timeout}s; got {got}"
                ) from None

    def abort(self):
        """Closes the socket without DISCONNECT (an abnormal disconnect for the broker)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()
        self.closed = True

    def close(self):
        if not self.closed:
            try:
                self.send(disconnect(0 if self.version == 5 else None, self.version))
            except OSError:
                pass
        self.sock.close()
        self.closed = True
