//! An AMQP 0-9-1 discard server on Trident's own sans-io codec: connection handshake,
//! channel.open, confirm.select and queue.declare answered; basic.publish counted and
//! dropped (and confirmed, in confirm mode); everything else ignored.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trident_amqp::codec::frame::PROTOCOL_HEADER;
use trident_amqp::codec::{
    ClientMethod, FrameType, Peeked, ServerMethod, decode_method, peek_frame, put_method,
};
use trident_core::value::{FieldTable, FieldValue};

use super::Sink;

const FRAME_MAX: u32 = 131_072;

pub async fn start() -> std::io::Result<Sink> {
    super::listen(serve).await
}

async fn serve(mut s: TcpStream, received: Arc<AtomicU64>) {
    let _ = session(&mut s, &received).await;
}

async fn session(s: &mut TcpStream, received: &AtomicU64) -> std::io::Result<()> {
    let mut header = [0u8; 8];
    s.read_exact(&mut header).await?;
    if header != PROTOCOL_HEADER {
        s.write_all(&PROTOCOL_HEADER).await?;
        return Ok(());
    }
    let caps = FieldTable(vec![(
        "publisher_confirms".to_string(),
        FieldValue::Bool(true),
    )]);
    let props = FieldTable(vec![
        (
            "product".to_string(),
            FieldValue::LongString("trident-bench sink".into()),
        ),
        ("capabilities".to_string(), FieldValue::Table(caps)),
    ]);
    let mut out = BytesMut::new();
    put_method(
        &mut out,
        0,
        &ServerMethod::ConnectionStart {
            server_properties: &props,
            mechanisms: "PLAIN AMQPLAIN",
            locales: "en_US",
        },
    );
    s.write_all(&out).await?;
    out.clear();
    let mut buf = BytesMut::with_capacity(256 * 1024);
    // Per channel: confirm mode, and the last delivery tag confirmed.
    let mut confirming: HashMap<u16, u64> = HashMap::new();
    loop {
        loop {
            let head = match peek_frame(&buf, FRAME_MAX) {
                Ok(Peeked::Frame(h)) => h,
                Ok(Peeked::NeedMore(_)) => break,
                Err(_) => return Ok(()),
            };
            if head.kind == FrameType::Method
                && let Ok(m) = decode_method(head.payload(&buf))
            {
                let ch = head.channel;
                let reply = match m {
                    ClientMethod::ConnectionStartOk { .. } => Some(ServerMethod::ConnectionTune {
                        channel_max: 2047,
                        frame_max: FRAME_MAX,
                        heartbeat: 0,
                    }),
                    ClientMethod::ConnectionOpen { .. } => Some(ServerMethod::ConnectionOpenOk),
                    ClientMethod::ChannelOpen => Some(ServerMethod::ChannelOpenOk),
                    ClientMethod::ChannelClose { .. } => Some(ServerMethod::ChannelCloseOk),
                    ClientMethod::ConfirmSelect { nowait } => {
                        confirming.insert(ch, 0);
                        (!nowait).then_some(ServerMethod::ConfirmSelectOk)
                    }
                    ClientMethod::QueueDeclare { queue, nowait, .. } => {
                        if !nowait {
                            put_method(
                                &mut out,
                                ch,
                                &ServerMethod::QueueDeclareOk {
                                    queue: &queue,
                                    message_count: 0,
                                    consumer_count: 0,
                                },
                            );
                        }
                        None
                    }
                    ClientMethod::BasicQos { .. } => Some(ServerMethod::BasicQosOk),
                    ClientMethod::BasicPublish { .. } => {
                        received.fetch_add(1, Ordering::Relaxed);
                        confirming.get_mut(&ch).map(|tag| {
                            *tag += 1;
                            ServerMethod::BasicAck {
                                delivery_tag: *tag,
                                multiple: false,
                            }
                        })
                    }
                    ClientMethod::ConnectionClose { .. } => {
                        put_method(&mut out, 0, &ServerMethod::ConnectionCloseOk);
                        s.write_all(&out).await?;
                        return Ok(());
                    }
                    _ => None,
                };
                if let Some(r) = reply {
                    put_method(&mut out, ch, &r);
                }
            }
            buf.advance(head.total());
        }
        if !out.is_empty() {
            s.write_all(&out).await?;
            out.clear();
        }
        if s.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}
