//! Everything waiting to be written to the socket, in order, and when it is too much.

use bytes::BytesMut;

use crate::codec::{EncodeError, Packet, ProtocolVersion, encode_within};
use crate::stats::MqttStats;

/// Output buffer capacity kept between bursts; a larger one is given back once it
/// drains.
const OUT_KEEP: usize = 64 * 1024;

pub(crate) struct Output {
    pub buf: BytesMut,
    high_water: usize,
    version: ProtocolVersion,
    /// The client's Maximum Packet Size.
    max_packet_size: Option<u32>,
}

impl Output {
    pub fn new(high_water: usize, version: ProtocolVersion, max_packet_size: Option<u32>) -> Self {
        Self {
            buf: BytesMut::new(),
            high_water,
            version,
            max_packet_size,
        }
    }

    /// Encodes `packet` within the client's Maximum Packet Size; a packet that cannot
    /// fit is not written ([MQTT-3.1.2-24]) and the error says so.
    pub fn send(&mut self, packet: &Packet, stats: &MqttStats) -> Result<(), EncodeError> {
        let fitted = encode_within(packet, self.version, self.max_packet_size, &mut self.buf)?;
        MqttStats::add(&stats.bytes_sent, fitted.len as u64);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Past the high-water mark: stop reading and taking deliveries until it drains.
    pub fn is_full(&self) -> bool {
        self.buf.len() >= self.high_water
    }

    /// The buffer went out: give back a large allocation, keep a small one.
    pub fn drained(&mut self) {
        if self.buf.capacity() > OUT_KEEP {
            self.buf = BytesMut::new();
        }
    }

    /// Idle connections hold no output buffer.
    pub fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }
}
