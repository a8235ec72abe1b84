//! decode(encode(p)) == p for hand-built packets of each version.

use bytes::{Bytes, BytesMut};
use trident_mqtt::codec::{
    Decoder, Packet, PacketId, ProtocolVersion, Publish, PublishProperties, QoS, encode,
    encoded_len,
};

fn round_trip(packet: &Packet, version: ProtocolVersion) {
    let mut buf = BytesMut::new();
    let written = encode(packet, version, &mut buf).expect("encodes");
    assert_eq!(written, buf.len());
    assert_eq!(encoded_len(packet, version).expect("measures"), written);
    let decoded = Decoder::server(version)
        .decode(&mut buf)
        .expect("decodes")
        .expect("complete");
    assert_eq!(&decoded, packet);
    assert!(buf.is_empty());
}

#[test]
fn publish_qos_1_round_trips_in_every_version() {
    for version in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        let packet = Packet::Publish(Publish {
            dup: true,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "sensors/1/temp".to_owned(),
            packet_id: PacketId::new(42),
            properties: PublishProperties::default(),
            payload: Bytes::from_static(b"21.5"),
        });
        round_trip(&packet, version);
    }
}
