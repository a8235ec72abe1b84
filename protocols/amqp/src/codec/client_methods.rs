//! Methods a client sends, decoded from a method frame's payload. Only the
//! client-to-server direction is decoded: a server never needs to parse its own replies.

use bytes::Bytes;
use trident_core::FieldTable;

use super::ids::{access, basic, channel, class, confirm, connection, exchange, queue, tx};
use super::table::read_table;
use super::wire::{DecodeError, Reader, bit};

#[derive(Debug, Clone, PartialEq)]
pub enum ClientMethod {
    ConnectionStartOk {
        client_properties: FieldTable,
        mechanism: String,
        response: Bytes,
        locale: String,
    },
    ConnectionSecureOk {
        response: Bytes,
    },
    ConnectionTuneOk {
        channel_max: u16,
        frame_max: u32,
        heartbeat: u16,
    },
    ConnectionOpen {
        vhost: String,
    },
    ConnectionClose {
        reply_code: u16,
        reply_text: String,
        class_id: u16,
        method_id: u16,
    },
    ConnectionCloseOk,
    /// RabbitMQ's credential refresh (OAuth tokens).
    ConnectionUpdateSecret {
        new_secret: Bytes,
        reason: String,
    },
    ChannelOpen,
    ChannelFlow {
        active: bool,
    },
    ChannelFlowOk {
        active: bool,
    },
    ChannelClose {
        reply_code: u16,
        reply_text: String,
        class_id: u16,
        method_id: u16,
    },
    ChannelCloseOk,
    /// access.request: a no-op kept for old clients (the realm is ignored).
    AccessRequest,
    ExchangeDeclare {
        exchange: String,
        kind: String,
        passive: bool,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        nowait: bool,
        arguments: FieldTable,
    },
    ExchangeDelete {
        exchange: String,
        if_unused: bool,
        nowait: bool,
    },
    ExchangeBind {
        destination: String,
        source: String,
        routing_key: String,
        nowait: bool,
        arguments: FieldTable,
    },
    ExchangeUnbind {
        destination: String,
        source: String,
        routing_key: String,
        nowait: bool,
        arguments: FieldTable,
    },
    QueueDeclare {
        queue: String,
        passive: bool,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        nowait: bool,
        arguments: FieldTable,
    },
    QueueBind {
        queue: String,
        exchange: String,
        routing_key: String,
        nowait: bool,
        arguments: FieldTable,
    },
    QueuePurge {
        queue: String,
        nowait: bool,
    },
    QueueDelete {
        queue: String,
        if_unused: bool,
        if_empty: bool,
        nowait: bool,
    },
    QueueUnbind {
        queue: String,
        exchange: String,
        routing_key: String,
        arguments: FieldTable,
    },
    BasicQos {
        prefetch_size: u32,
        prefetch_count: u16,
        global: bool,
    },
    BasicConsume {
        queue: String,
        consumer_tag: String,
        no_local: bool,
        no_ack: bool,
        exclusive: bool,
        nowait: bool,
        arguments: FieldTable,
    },
    BasicCancel {
        consumer_tag: String,
        nowait: bool,
    },
    BasicPublish {
        exchange: String,
        routing_key: String,
        mandatory: bool,
        immediate: bool,
    },
    BasicGet {
        queue: String,
        no_ack: bool,
    },
    BasicAck {
        delivery_tag: u64,
        multiple: bool,
    },
    BasicReject {
        delivery_tag: u64,
        requeue: bool,
    },
    BasicRecoverAsync {
        requeue: bool,
    },
    BasicRecover {
        requeue: bool,
    },
    BasicNack {
        delivery_tag: u64,
        multiple: bool,
        requeue: bool,
    },
    ConfirmSelect {
        nowait: bool,
    },
    TxSelect,
    TxCommit,
    TxRollback,
}

/// Why a method frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodError {
    /// A class/method pair we do not know, or one only a server may send.
    #[error("unknown or server-only method {class_id}.{method_id}")]
    Unknown { class_id: u16, method_id: u16 },
    /// The arguments do not decode.
    #[error("malformed arguments of method {class_id}.{method_id}: {error}")]
    Syntax {
        class_id: u16,
        method_id: u16,
        error: DecodeError,
    },
}

impl MethodError {
    pub fn ids(&self) -> (u16, u16) {
        match *self {
            MethodError::Unknown {
                class_id,
                method_id,
            }
            | MethodError::Syntax {
                class_id,
                method_id,
                ..
            } => (class_id, method_id),
        }
    }
}

/// Decodes a method frame's payload.
pub fn decode_method(payload: &[u8]) -> Result<ClientMethod, MethodError> {
    let mut r = Reader::new(payload);
    let (class_id, method_id) = match (r.u16(), r.u16()) {
        (Ok(c), Ok(m)) => (c, m),
        (_, Err(error)) | (Err(error), _) => {
            return Err(MethodError::Syntax {
                class_id: 0,
                method_id: 0,
                error,
            });
        }
    };
    match decode_args(class_id, method_id, &mut r) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(MethodError::Unknown {
            class_id,
            method_id,
        }),
        Err(error) => Err(MethodError::Syntax {
            class_id,
            method_id,
            error,
        }),
    }
}

fn decode_args(
    class_id: u16,
    method_id: u16,
    r: &mut Reader<'_>,
) -> Result<Option<ClientMethod>, DecodeError> {
    use ClientMethod as M;
    let m = match (class_id, method_id) {
        (class::CONNECTION, connection::START_OK) => M::ConnectionStartOk {
            client_properties: read_table(r)?,
            mechanism: r.short_str()?,
            response: r.long_bytes_owned()?,
            locale: r.short_str()?,
        },
        (class::CONNECTION, connection::SECURE_OK) => M::ConnectionSecureOk {
            response: r.long_bytes_owned()?,
        },
        (class::CONNECTION, connection::TUNE_OK) => M::ConnectionTuneOk {
            channel_max: r.u16()?,
            frame_max: r.u32()?,
            heartbeat: r.u16()?,
        },
        (class::CONNECTION, connection::OPEN) => {
            let vhost = r.short_str()?;
            // reserved-1 (capabilities) and reserved-2 (insist) carry nothing in 0-9-1;
            // some old clients omit them, so they are not required.
            M::ConnectionOpen { vhost }
        }
        (class::CONNECTION, connection::CLOSE) => M::ConnectionClose {
            reply_code: r.u16()?,
            reply_text: r.short_str()?,
            class_id: r.u16()?,
            method_id: r.u16()?,
        },
        (class::CONNECTION, connection::CLOSE_OK) => M::ConnectionCloseOk,
        (class::CONNECTION, connection::UPDATE_SECRET) => M::ConnectionUpdateSecret {
            new_secret: r.long_bytes_owned()?,
            reason: r.short_str()?,
        },
        (class::CHANNEL, channel::OPEN) => M::ChannelOpen,
        (class::CHANNEL, channel::FLOW) => M::ChannelFlow {
            active: bit(r.u8()?, 0),
        },
        (class::CHANNEL, channel::FLOW_OK) => M::ChannelFlowOk {
            active: bit(r.u8()?, 0),
        },
        (class::CHANNEL, channel::CLOSE) => M::ChannelClose {
            reply_code: r.u16()?,
            reply_text: r.short_str()?,
            class_id: r.u16()?,
            method_id: r.u16()?,
        },
        (class::CHANNEL, channel::CLOSE_OK) => M::ChannelCloseOk,
        (class::ACCESS, access::REQUEST) => {
            let _realm = r.short_str()?;
            let _flags = r.u8()?;
            M::AccessRequest
        }
        (class::EXCHANGE, exchange::DECLARE) => {
            let _ticket = r.u16()?;
            let exchange = r.short_str()?;
            let kind = r.short_str()?;
            let bits = r.u8()?;
            M::ExchangeDeclare {
                exchange,
                kind,
                passive: bit(bits, 0),
                durable: bit(bits, 1),
                auto_delete: bit(bits, 2),
                internal: bit(bits, 3),
                nowait: bit(bits, 4),
                arguments: read_table(r)?,
            }
        }
        (class::EXCHANGE, exchange::DELETE) => {
            let _ticket = r.u16()?;
            let exchange = r.short_str()?;
            let bits = r.u8()?;
            M::ExchangeDelete {
                exchange,
                if_unused: bit(bits, 0),
                nowait: bit(bits, 1),
            }
        }
        (class::EXCHANGE, exchange::BIND) | (class::EXCHANGE, exchange::UNBIND) => {
            let _ticket = r.u16()?;
            let destination = r.short_str()?;
            let source = r.short_str()?;
            let routing_key = r.short_str()?;
            let nowait = bit(r.u8()?, 0);
            let arguments = read_table(r)?;
            if method_id == exchange::BIND {
                M::ExchangeBind {
                    destination,
                    source,
                    routing_key,
                    nowait,
                    arguments,
                }
            } else {
                M::ExchangeUnbind {
                    destination,
                    source,
                    routing_key,
                    nowait,
                    arguments,
                }
            }
        }
        (class::QUEUE, queue::DECLARE) => {
            let _ticket = r.u16()?;
            let queue = r.short_str()?;
            let bits = r.u8()?;
            M::QueueDeclare {
                queue,
                passive: bit(bits, 0),
                durable: bit(bits, 1),
                exclusive: bit(bits, 2),
                auto_delete: bit(bits, 3),
                nowait: bit(bits, 4),
                arguments: read_table(r)?,
            }
        }
        (class::QUEUE, queue::BIND) => {
            let _ticket = r.u16()?;
            M::QueueBind {
                queue: r.short_str()?,
                exchange: r.short_str()?,
                routing_key: r.short_str()?,
                nowait: bit(r.u8()?, 0),
                arguments: read_table(r)?,
            }
        }
        (class::QUEUE, queue::PURGE) => {
            let _ticket = r.u16()?;
            M::QueuePurge {
                queue: r.short_str()?,
                nowait: bit(r.u8()?, 0),
            }
        }
        (class::QUEUE, queue::DELETE) => {
            let _ticket = r.u16()?;
            let queue = r.short_str()?;
            let bits = r.u8()?;
            M::QueueDelete {
                queue,
                if_unused: bit(bits, 0),
                if_empty: bit(bits, 1),
                nowait: bit(bits, 2),
            }
        }
        (class::QUEUE, queue::UNBIND) => {
            let _ticket = r.u16()?;
            M::QueueUnbind {
                queue: r.short_str()?,
                exchange: r.short_str()?,
                routing_key: r.short_str()?,
                arguments: read_table(r)?,
            }
        }
        (class::BASIC, basic::QOS) => M::BasicQos {
            prefetch_size: r.u32()?,
            prefetch_count: r.u16()?,
            global: bit(r.u8()?, 0),
        },
        (class::BASIC, basic::CONSUME) => {
            let _ticket = r.u16()?;
            let queue = r.short_str()?;
            let consumer_tag = r.short_str()?;
            let bits = r.u8()?;
            M::BasicConsume {
                queue,
                consumer_tag,
                no_local: bit(bits, 0),
                no_ack: bit(bits, 1),
                exclusive: bit(bits, 2),
                nowait: bit(bits, 3),
                arguments: read_table(r)?,
            }
        }
        (class::BASIC, basic::CANCEL) => M::BasicCancel {
            consumer_tag: r.short_str()?,
            nowait: bit(r.u8()?, 0),
        },
        (class::BASIC, basic::PUBLISH) => {
            let _ticket = r.u16()?;
            let exchange = r.short_str()?;
            let routing_key = r.short_str()?;
            let bits = r.u8()?;
            M::BasicPublish {
                exchange,
                routing_key,
                mandatory: bit(bits, 0),
                immediate: bit(bits, 1),
            }
        }
        (class::BASIC, basic::GET) => {
            let _ticket = r.u16()?;
            M::BasicGet {
                queue: r.short_str()?,
                no_ack: bit(r.u8()?, 0),
            }
        }
        (class::BASIC, basic::ACK) => M::BasicAck {
            delivery_tag: r.u64()?,
            multiple: bit(r.u8()?, 0),
        },
        (class::BASIC, basic::REJECT) => M::BasicReject {
            delivery_tag: r.u64()?,
            requeue: bit(r.u8()?, 0),
        },
        (class::BASIC, basic::RECOVER_ASYNC) => M::BasicRecoverAsync {
            requeue: bit(r.u8()?, 0),
        },
        (class::BASIC, basic::RECOVER) => M::BasicRecover {
            requeue: bit(r.u8()?, 0),
        },
        (class::BASIC, basic::NACK) => {
            let delivery_tag = r.u64()?;
            let bits = r.u8()?;
            M::BasicNack {
                delivery_tag,
                multiple: bit(bits, 0),
                requeue: bit(bits, 1),
            }
        }
        (class::CONFIRM, confirm::SELECT) => M::ConfirmSelect {
            // Some clients send confirm.select without the nowait octet.
            nowait: r.remaining() > 0 && bit(r.u8()?, 0),
        },
        (class::TX, tx::SELECT) => M::TxSelect,
        (class::TX, tx::COMMIT) => M::TxCommit,
        (class::TX, tx::ROLLBACK) => M::TxRollback,
        _ => return Ok(None),
    };
    Ok(Some(m))
}

impl ClientMethod {
    /// The method's class and method ids, reported back in `close` replies.
    pub fn ids(&self) -> (u16, u16) {
        use ClientMethod as M;
        match self {
            M::ConnectionStartOk { .. } => (class::CONNECTION, connection::START_OK),
            M::ConnectionSecureOk { .. } => (class::CONNECTION, connection::SECURE_OK),
            M::ConnectionTuneOk { .. } => (class::CONNECTION, connection::TUNE_OK),
            M::ConnectionOpen { .. } => (class::CONNECTION, connection::OPEN),
            M::ConnectionClose { .. } => (class::CONNECTION, connection::CLOSE),
            M::ConnectionCloseOk => (class::CONNECTION, connection::CLOSE_OK),
            M::ConnectionUpdateSecret { .. } => (class::CONNECTION, connection::UPDATE_SECRET),
            M::ChannelOpen => (class::CHANNEL, channel::OPEN),
            M::ChannelFlow { .. } => (class::CHANNEL, channel::FLOW),
            M::ChannelFlowOk { .. } => (class::CHANNEL, channel::FLOW_OK),
            M::ChannelClose { .. } => (class::CHANNEL, channel::CLOSE),
            M::ChannelCloseOk => (class::CHANNEL, channel::CLOSE_OK),
            M::AccessRequest => (class::ACCESS, access::REQUEST),
            M::ExchangeDeclare { .. } => (class::EXCHANGE, exchange::DECLARE),
            M::ExchangeDelete { .. } => (class::EXCHANGE, exchange::DELETE),
            M::ExchangeBind { .. } => (class::EXCHANGE, exchange::BIND),
            M::ExchangeUnbind { .. } => (class::EXCHANGE, exchange::UNBIND),
            M::QueueDeclare { .. } => (class::QUEUE, queue::DECLARE),
            M::QueueBind { .. } => (class::QUEUE, queue::BIND),
            M::QueuePurge { .. } => (class::QUEUE, queue::PURGE),
            M::QueueDelete { .. } => (class::QUEUE, queue::DELETE),
            M::QueueUnbind { .. } => (class::QUEUE, queue::UNBIND),
            M::BasicQos { .. } => (class::BASIC, basic::QOS),
            M::BasicConsume { .. } => (class::BASIC, basic::CONSUME),
            M::BasicCancel { .. } => (class::BASIC, basic::CANCEL),
            M::BasicPublish { .. } => (class::BASIC, basic::PUBLISH),
            M::BasicGet { .. } => (class::BASIC, basic::GET),
            M::BasicAck { .. } => (class::BASIC, basic::ACK),
            M::BasicReject { .. } => (class::BASIC, basic::REJECT),
            M::BasicRecoverAsync { .. } => (class::BASIC, basic::RECOVER_ASYNC),
            M::BasicRecover { .. } => (class::BASIC, basic::RECOVER),
            M::BasicNack { .. } => (class::BASIC, basic::NACK),
            M::ConfirmSelect { .. } => (class::CONFIRM, confirm::SELECT),
            M::TxSelect => (class::TX, tx::SELECT),
            M::TxCommit => (class::TX, tx::COMMIT),
            M::TxRollback => (class::TX, tx::ROLLBACK),
        }
    }

    /// Whether content (header and body frames) follows this method.
    pub fn has_content(&self) -> bool {
        matches!(self, ClientMethod::BasicPublish { .. })
    }
}
