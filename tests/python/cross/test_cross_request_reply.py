"""Request/reply across protocols: an MQTT 5 requester (response topic, correlation
data) answered by an AMQP replier doing the usual basic_publish('', reply_to), and an
AMQP requester (reply-to, correlation-id) answered by an MQTT 5 replier publishing to
the response topic it was given (docs/cross-protocol.md, request/reply)."""

import pika
from paho.mqtt.packettypes import PacketTypes

from mqttkit import prop, props


def test_mqtt_requester_amqp_replier(ch, mqtt, u):
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q, "amq.topic", f"svc.{u}")
    requester = mqtt("requester")
    requester.subscribe(f"resp/{u}/#", qos=1)
    corrs = [b"\x00\x01\xff", b"text-corr"]
    for i, corr in enumerate(corrs):
        requester.publish(f"svc/{u}", f"req-{i}".encode(), qos=1, properties=props(
            PacketTypes.PUBLISH, ResponseTopic=f"resp/{u}/{i}", CorrelationData=corr))
    # The replier copies what RabbitMQ-minded code copies: reply-to and correlation-id,
    # plus the x-correlation-id header that carries correlation data that is no
    # AMQP short string.
    served = 0
    for m, p, body in ch.consume(q, auto_ack=True, inactivity_timeout=10):
        assert m is not None, "request seen over AMQP"
        headers = {}
        if "x-correlation-id" in (p.headers or {}):
            headers["x-correlation-id"] = p.headers["x-correlation-id"]
        ch.basic_publish("", p.reply_to, b"re:" + body, pika.BasicProperties(
            correlation_id=p.correlation_id, headers=headers or None))
        served += 1
        if served == len(corrs):
            break
    ch.cancel()
    got = sorted(requester.collect(2), key=lambda m: m.topic)
    for i, m in enumerate(got):
        assert m.topic == f"resp/{u}/{i}"
        assert m.payload == f"re:req-{i}".encode()
        assert prop(m, "CorrelationData") == corrs[i]


def test_amqp_requester_mqtt_replier(ch, mqtt, u):
    replier = mqtt("replier")
    replier.subscribe(f"svc2/{u}", qos=1)
    reply_q = ch.queue_declare("", exclusive=True).method.queue
    for i in range(2):
        ch.basic_publish("amq.topic", f"svc2.{u}", f"req-{i}".encode(), pika.BasicProperties(
            reply_to=reply_q, correlation_id=f"id-{i}", delivery_mode=2))
    for req in replier.collect(2):
        assert prop(req, "ResponseTopic") == f"$queue/{reply_q}"
        replier.publish(prop(req, "ResponseTopic"), b"re:" + req.payload, qos=1,
                        properties=props(PacketTypes.PUBLISH,
                                         CorrelationData=prop(req, "CorrelationData")))
    got = []
    for m, p, body in ch.consume(reply_q, auto_ack=True, inactivity_timeout=10):
        assert m is not None, "reply seen over AMQP"
        got.append((p.correlation_id, body))
        if len(got) == 2:
            break
    ch.cancel()
    assert got == [("id-0", b"re:req-0"), ("id-1", b"re:req-1")]


def test_amqp_direct_reply_to_answered_over_mqtt(ch, mqtt, u):
    """RabbitMQ's direct reply-to: the requester consumes amq.rabbitmq.reply-to and the
    MQTT replier answers on the $queue/ topic the reply-to became."""
    replier = mqtt("replier")
    replier.subscribe(f"svc3/{u}", qos=1)
    replies = []
    ch.basic_consume("amq.rabbitmq.reply-to",
                     lambda c, m, p, b: replies.append((p.correlation_id, b)), auto_ack=True)
    ch.basic_publish("amq.topic", f"svc3.{u}", b"ping", pika.BasicProperties(
        reply_to="amq.rabbitmq.reply-to", correlation_id="d-1"))
    req = replier.recv(10)
    assert prop(req, "ResponseTopic").startswith("$queue/amq.rabbitmq.reply-to")
    replier.publish(prop(req, "ResponseTopic"), b"pong", qos=1, properties=props(
        PacketTypes.PUBLISH, CorrelationData=prop(req, "CorrelationData")))
    for _ in range(100):
        if replies:
            break
        ch.connection.process_data_events(time_limit=0.1)
    assert replies == [("d-1", b"pong")]
