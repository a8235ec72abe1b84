//! Methods the server sends, encoded straight into the connection's output buffer.
//! Arguments are borrowed so that a delivery costs no allocation to encode.

use bytes::{BufMut, BytesMut};
use trident_core::FieldTable;

use super::frame::{FRAME_BODY, FRAME_METHOD, begin_frame, end_frame};
use super::ids::{access, basic, channel, class, confirm, connection, exchange, queue, tx};
use super::table::put_table;
use super::wire::{pack_bits, put_long_bytes, put_short_str};

#[derive(Debug, Clone, Copy)]
pub enum ServerMethod<'a> {
    ConnectionStart {
        server_properties: &'a FieldTable,
        mechanisms: &'a str,
        locales: &'a str,
    },
    ConnectionSecure {
        challenge: &'a [u8],
    },
    ConnectionTune {
        channel_max: u16,
        frame_max: u32,
        heartbeat: u16,
    },
    ConnectionOpenOk,
    ConnectionClose {
        reply_code: u16,
        reply_text: &'a str,
        class_id: u16,
        method_id: u16,
    },
    ConnectionCloseOk,
    ConnectionBlocked {
        reason: &'a str,
    },
    ConnectionUnblocked,
    ConnectionUpdateSecretOk,
    ChannelOpenOk,
    ChannelFlow {
        active: bool,
    },
    ChannelFlowOk {
        active: bool,
    },
    ChannelClose {
        reply_code: u16,
        reply_text: &'a str,
        class_id: u16,
        method_id: u16,
    },
    ChannelCloseOk,
    AccessRequestOk,
    ExchangeDeclareOk,
    ExchangeDeleteOk,
    ExchangeBindOk,
    ExchangeUnbindOk,
    QueueDeclareOk {
        queue: &'a str,
        message_count: u32,
        consumer_count: u32,
    },
    QueueBindOk,
    QueuePurgeOk {
        message_count: u32,
    },
    QueueDeleteOk {
        message_count: u32,
    },
    QueueUnbindOk,
    BasicQosOk,
    BasicConsumeOk {
        consumer_tag: &'a str,
    },
    BasicCancelOk {
        consumer_tag: &'a str,
    },
    /// Server-initiated cancel (RabbitMQ's consumer cancel notification).
    BasicCancel {
        consumer_tag: &'a str,
        nowait: bool,
    },
    BasicReturn {
        reply_code: u16,
        reply_text: &'a str,
        exchange: &'a str,
        routing_key: &'a str,
    },
    BasicDeliver {
        consumer_tag: &'a str,
        delivery_tag: u64,
        redelivered: bool,
        exchange: &'a str,
        routing_key: &'a str,
    },
    BasicGetOk {
        delivery_tag: u64,
        redelivered: bool,
        exchange: &'a str,
        routing_key: &'a str,
        message_count: u32,
    },
    BasicGetEmpty,
    BasicAck {
        delivery_tag: u64,
        multiple: bool,
    },
    BasicNack {
        delivery_tag: u64,
        multiple: bool,
        requeue: bool,
    },
    BasicRecoverOk,
    ConfirmSelectOk,
    TxSelectOk,
    TxCommitOk,
    TxRollbackOk,
}

/// Writes one complete method frame.
pub fn put_method(out: &mut BytesMut, ch: u16, m: &ServerMethod<'_>) {
    use ServerMethod as M;
    let at = begin_frame(out, FRAME_METHOD, ch);
    let ids = |out: &mut BytesMut, c: u16, m: u16| {
        out.put_u16(c);
        out.put_u16(m);
    };
    match *m {
        M::ConnectionStart {
            server_properties,
            mechanisms,
            locales,
        } => {
            ids(out, class::CONNECTION, connection::START);
            out.put_u8(0);
            out.put_u8(9);
            put_table(out, server_properties);
            put_long_bytes(out, mechanisms.as_bytes());
            put_long_bytes(out, locales.as_bytes());
        }
        M::ConnectionSecure { challenge } => {
            ids(out, class::CONNECTION, connection::SECURE);
            put_long_bytes(out, challenge);
        }
        M::ConnectionTune {
            channel_max,
            frame_max,
            heartbeat,
        } => {
            ids(out, class::CONNECTION, connection::TUNE);
            out.put_u16(channel_max);
            out.put_u32(frame_max);
            out.put_u16(heartbeat);
        }
        M::ConnectionOpenOk => {
            ids(out, class::CONNECTION, connection::OPEN_OK);
            put_short_str(out, "");
        }
        M::ConnectionClose {
            reply_code,
            reply_text,
            class_id,
            method_id,
        } => {
            ids(out, class::CONNECTION, connection::CLOSE);
            out.put_u16(reply_code);
            put_short_str(out, reply_text);
            out.put_u16(class_id);
            out.put_u16(method_id);
        }
        M::ConnectionCloseOk => ids(out, class::CONNECTION, connection::CLOSE_OK),
        M::ConnectionBlocked { reason } => {
            ids(out, class::CONNECTION, connection::BLOCKED);
            put_short_str(out, reason);
        }
        M::ConnectionUnblocked => ids(out, class::CONNECTION, connection::UNBLOCKED),
        M::ConnectionUpdateSecretOk => ids(out, class::CONNECTION, connection::UPDATE_SECRET_OK),
        M::ChannelOpenOk => {
            ids(out, class::CHANNEL, channel::OPEN_OK);
            put_long_bytes(out, b"");
        }
        M::ChannelFlow { active } => {
            ids(out, class::CHANNEL, channel::FLOW);
            out.put_u8(u8::from(active));
        }
        M::ChannelFlowOk { active } => {
            ids(out, class::CHANNEL, channel::FLOW_OK);
            out.put_u8(u8::from(active));
        }
        M::ChannelClose {
            reply_code,
            reply_text,
            class_id,
            method_id,
        } => {
            ids(out, class::CHANNEL, channel::CLOSE);
            out.put_u16(reply_code);
            put_short_str(out, reply_text);
            out.put_u16(class_id);
            out.put_u16(method_id);
        }
        M::ChannelCloseOk => ids(out, class::CHANNEL, channel::CLOSE_OK),
        M::AccessRequestOk => {
            ids(out, class::ACCESS, access::REQUEST_OK);
            // The ticket RabbitMQ hands out; 0-9-1 ignores tickets everywhere.
            out.put_u16(1);
        }
        M::ExchangeDeclareOk => ids(out, class::EXCHANGE, exchange::DECLARE_OK),
        M::ExchangeDeleteOk => ids(out, class::EXCHANGE, exchange::DELETE_OK),
        M::ExchangeBindOk => ids(out, class::EXCHANGE, exchange::BIND_OK),
        M::ExchangeUnbindOk => ids(out, class::EXCHANGE, exchange::UNBIND_OK),
        M::QueueDeclareOk {
            queue,
            message_count,
            consumer_count,
        } => {
            ids(out, class::QUEUE, self::queue::DECLARE_OK);
            put_short_str(out, queue);
            out.put_u32(message_count);
            out.put_u32(consumer_count);
        }
        M::QueueBindOk => ids(out, class::QUEUE, queue::BIND_OK),
        M::QueuePurgeOk { message_count } => {
            ids(out, class::QUEUE, queue::PURGE_OK);
            out.put_u32(message_count);
        }
        M::QueueDeleteOk { message_count } => {
            ids(out, class::QUEUE, queue::DELETE_OK);
            out.put_u32(message_count);
        }
        M::QueueUnbindOk => ids(out, class::QUEUE, queue::UNBIND_OK),
        M::BasicQosOk => ids(out, class::BASIC, basic::QOS_OK),
        M::BasicConsumeOk { consumer_tag } => {
            ids(out, class::BASIC, basic::CONSUME_OK);
            put_short_str(out, consumer_tag);
        }
        M::BasicCancelOk { consumer_tag } => {
            ids(out, class::BASIC, basic::CANCEL_OK);
            put_short_str(out, consumer_tag);
        }
        M::BasicCancel {
            consumer_tag,
            nowait,
        } => {
            ids(out, class::BASIC, basic::CANCEL);
            put_short_str(out, consumer_tag);
            out.put_u8(u8::from(nowait));
        }
        M::BasicReturn {
            reply_code,
            reply_text,
            exchange,
            routing_key,
        } => {
            ids(out, class::BASIC, basic::RETURN);
            out.put_u16(reply_code);
            put_short_str(out, reply_text);
            put_short_str(out, exchange);
            put_short_str(out, routing_key);
        }
        M::BasicDeliver {
            consumer_tag,
            delivery_tag,
            redelivered,
            exchange,
            routing_key,
        } => {
            ids(out, class::BASIC, basic::DELIVER);
            put_short_str(out, consumer_tag);
            out.put_u64(delivery_tag);
            out.put_u8(u8::from(redelivered));
            put_short_str(out, exchange);
            put_short_str(out, routing_key);
        }
        M::BasicGetOk {
            delivery_tag,
            redelivered,
            exchange,
            routing_key,
            message_count,
        } => {
            ids(out, class::BASIC, basic::GET_OK);
            out.put_u64(delivery_tag);
            out.put_u8(u8::from(redelivered));
            put_short_str(out, exchange);
            put_short_str(out, routing_key);
            out.put_u32(message_count);
        }
        M::BasicGetEmpty => {
            ids(out, class::BASIC, basic::GET_EMPTY);
            put_short_str(out, "");
        }
        M::BasicAck {
            delivery_tag,
            multiple,
        } => {
            ids(out, class::BASIC, basic::ACK);
            out.put_u64(delivery_tag);
            out.put_u8(u8::from(multiple));
        }
        M::BasicNack {
            delivery_tag,
            multiple,
            requeue,
        } => {
            ids(out, class::BASIC, basic::NACK);
            out.put_u64(delivery_tag);
            out.put_u8(pack_bits(&[multiple, requeue]));
        }
        M::BasicRecoverOk => ids(out, class::BASIC, basic::RECOVER_OK),
        M::ConfirmSelectOk => ids(out, class::CONFIRM, confirm::SELECT_OK),
        M::TxSelectOk => ids(out, class::TX, tx::SELECT_OK),
        M::TxCommitOk => ids(out, class::TX, tx::COMMIT_OK),
        M::TxRollbackOk => ids(out, class::TX, tx::ROLLBACK_OK),
    }
    end_frame(out, at);
}

/// Writes a body as as many body frames as `frame_max` requires (an empty body needs
/// none: the header's size of 0 says it all).
pub fn put_body(out: &mut BytesMut, ch: u16, body: &[u8], frame_max: u32) {
    let max_payload = (frame_max as usize)
        .saturating_sub(super::frame::FRAME_OVERHEAD)
        .max(1);
    out.reserve(body.len() + body.len().div_ceil(max_payload) * super::frame::FRAME_OVERHEAD);
    for chunk in body.chunks(max_payload) {
        let at = begin_frame(out, FRAME_BODY, ch);
        out.put_slice(chunk);
        end_frame(out, at);
    }
}
