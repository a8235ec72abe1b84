"""A synchronous face on paho-mqtt 2.x for tests: connect and wait for CONNACK,
subscribe and wait for SUBACK, publish and wait for the broker's acknowledgement, and a
queue of received messages. The same calls work for MQTT 3.1.1 and 5.0."""

import queue
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

V311 = mqtt.MQTTv311
V5 = mqtt.MQTTv5


def props(ptype, **values):
    """paho Properties of packet type `ptype` (e.g. PacketTypes.PUBLISH) from keywords
    such as UserProperty=[("k", "v")], MessageExpiryInterval=5."""
    p = Properties(ptype)
    for k, v in values.items():
        setattr(p, k, v)
    return p


def prop(msg_or_props, name, default=None):
    """A property of a received message (or a Properties object), or `default`."""
    p = msg_or_props
    if not isinstance(p, Properties):
        p = getattr(p, "properties", None)
    if p is None:
        return default
    return getattr(p, name, default)


class Client:
    """One paho client with its network loop in a thread and no automatic reconnect."""

    def __init__(self, addr, version, client_id="", clean=True, session_expiry=None,
                 keepalive=30, will=None, connect_props=None, manual_ack=False,
                 max_inflight=100, connect=True, timeout=10.0):
        self.addr, self.version, self.timeout = addr, version, timeout
        self.messages = queue.Queue()
        self.connack = None  # (reason code value, session present, properties)
        self.disconnected = threading.Event()
        self.disconnect_reason = None
        self.disconnect_props = None
        self._connacked = threading.Event()
        self._subacks = {}
        self._unsubacks = {}
        self._lock = threading.Lock()
        kw = {}
        if version != V5:
            kw["clean_session"] = clean
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=version,
            reconnect_on_failure=False,
            manual_ack=manual_ack,
            **kw,
        )
        self.c.max_inflight_messages_set(max_inflight)
        self.c.max_queued_messages_set(0)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        self.c.on_disconnect = self._on_disconnect
        if will:
            topic, payload, qos, retain, wprops = (list(will) + [None])[:5]
            self.c.will_set(topic, payload, qos, retain, properties=wprops)
        self._clean = clean
        self._session_expiry = session_expiry
        self._keepalive = keepalive
        self._connect_props = connect_props
        if connect:
            self.connect()

    # ---------------------------------------------------------------- callbacks
    def _on_connect(self, _c, _u, flags, reason, properties):
        self.connack = (reason.value, bool(flags.session_present), properties)
        self._connacked.set()

    def _on_message(self, _c, _u, msg):
        self.messages.put(msg)

    def _on_subscribe(self, _c, _u, mid, reasons, _props):
        with self._lock:
            self._subacks[mid] = [r.value for r in reasons]

    def _on_unsubscribe(self, _c, _u, mid, reasons, _props):
        with self._lock:
            self._unsubacks[mid] = [r.value for r in reasons] if reasons else []

    def _on_disconnect(self, _c, _u, _flags, reason, properties):
        self.disconnect_reason = reason.value if reason is not None else None
        self.disconnect_props = properties
        self.disconnected.set()
        self._connacked.set()

    # ---------------------------------------------------------------- operations
    def connect(self):
        host, port = self.addr
        kw = {}
        if self.version == V5:
            p = self._connect_props or props(PacketTypes.CONNECT)
            if self._session_expiry is not None:
                p.SessionExpiryInterval = self._session_expiry
            kw = {"clean_start": self._clean, "properties": p}
        self.c.connect(host, port, self._keepalive, **kw)
        self.c.loop_start()
        if not self._connacked.wait(self.timeout) or self.connack is None:
            raise AssertionError(f"no CONNACK from {self.addr}")
        return self.connack

    @property
    def reason(self):
        return self.connack[0]

    @property
    def session_present(self):
        return self.connack[1]

    def subscribe(self, topic, qos=1, options=None, properties=None):
        """Subscribes one filter; returns the SUBACK reason codes (granted QoS in 3.1.1)."""
        if options is None and self.version == V5:
            options = SubscribeOptions(qos=qos)
        if self.version == V5:
            rc, mid = self.c.subscribe(topic, options=options, properties=properties)
        else:
            rc, mid = self.c.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe not sent: {rc}"
        return self._wait(self._subacks, mid, "SUBACK")

    def unsubscribe(self, topic):
        rc, mid = self.c.unsubscribe(topic)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        return self._wait(self._unsubacks, mid, "UNSUBACK")

    def _wait(self, table, mid, what):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with self._lock:
                if mid in table:
                    return table.pop(mid)
            time.sleep(0.005)
        raise AssertionError(f"no {what} for mid {mid}")

    def publish(self, topic, payload, qos=0, retain=False, properties=None, wait=True):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish not queued: {info.rc}"
        if wait:
            info.wait_for_publish(self.timeout)
            assert info.is_published(), f"publish of {topic!r} not acknowledged"
        return info

    def recv(self, timeout=5.0):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout}s") from None

    def collect(self, n, timeout=10.0):
        """Exactly the next `n` messages (fails if fewer arrive in time)."""
        deadline = time.monotonic() + timeout
        got = []
        while len(got) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"got {len(got)} of {n} messages within {timeout}s")
            try:
                got.append(self.messages.get(timeout=left))
            except queue.Empty:
                pass
        return got

    def drain(self, quiet=0.5):
        """Every message that arrives until none has come for `quiet` seconds."""
        got = []
        while True:
            try:
                got.append(self.messages.get(timeout=quiet))
            except queue.Empty:
                return got

    def assert_nothing(self, within=0.7):
        try:
            msg = self.messages.get(timeout=within)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected message on {msg.topic!r}: {msg.payload!r}")

    def ack(self, msg):
        self.c.ack(msg.mid, msg.qos)

    def disconnect(self, reason=None, properties=None):
        """A clean DISCONNECT (the will is discarded)."""
        if not self.disconnected.is_set():
            if self.version == V5 and reason is not None:
                from paho.mqtt.reasoncodes import ReasonCode

                self.c.disconnect(ReasonCode(PacketTypes.DISCONNECT, identifier=reason),
                                  properties)
            else:
                self.c.disconnect()
            self.disconnected.wait(self.timeout)
        self.c.loop_stop()

    def close(self):
        """Teardown helper: disconnect if still connected, never raises."""
        try:
            self.disconnect()
        except Exception:  # noqa: BLE001 - teardown must not mask the test's failure
            self.c.loop_stop()
