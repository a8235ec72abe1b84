//! DISCONNECT from the client: a normal end (no will), or in 5.0 0x04 Disconnect with
//! Will Message; a v5 client may also change the session expiry here, but not from 0
//! to more ([MQTT-3.14.2-2]'s counterpart, §3.14.2.2.2: a protocol error).

use crate::codec::{Disconnect, ReasonCode};
use crate::error::{MqttError, MqttResult};
use crate::session::{End, Session};

impl Session {
    pub(crate) fn on_disconnect(&mut self, d: &Disconnect) -> MqttResult<()> {
        if let Some(expiry) = d.properties.session_expiry_interval {
            if self.expiry == 0 && expiry != 0 {
                return Err(MqttError::protocol(
                    "session expiry set in DISCONNECT after CONNECT gave 0",
                ));
            }
            self.expiry = expiry.min(self.shared.config.max_session_expiry);
        }
        self.finish(End::Disconnected {
            will: d.reason == ReasonCode::DisconnectWithWillMessage,
        });
        Ok(())
    }
}
