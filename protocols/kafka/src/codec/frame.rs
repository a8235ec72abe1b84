//! Splits the byte stream into request frames (4-byte big-endian size, then the body).
//!
//! The size is checked against the configured maximum as soon as its 4 bytes arrive, so
//! an oversized frame is refused before any of it is buffered.

use bytes::{Buf, BytesMut};

/// Smallest valid request: api key, version, correlation id, client id length.
const MIN_REQUEST: usize = 10;

/// How much buffer to reserve ahead for a large frame: memory follows the bytes that
/// actually arrive, not the size a client claims.
const RESERVE_STEP: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    TooLarge { size: i64, max: usize },
    #[error("frame of {0} bytes is too short to hold a request header")]
    TooSmall(i64),
}

/// Takes the next complete frame off `buf`, or says how many more bytes it needs.
pub fn next_frame(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = i64::from(i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
    if size < MIN_REQUEST as i64 {
        return Err(FrameError::TooSmall(size));
    }
    let size_usize = usize::try_from(size).map_err(|_| FrameError::TooSmall(size))?;
    if size_usize > max {
        return Err(FrameError::TooLarge { size, max });
    }
    let total = 4 + size_usize;
    if buf.len() < total {
        let want = (total - buf.len()).min(RESERVE_STEP);
        buf.reserve(want);
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size_usize)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_frame_is_refused_from_its_prefix() {
        let mut b = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            next_frame(&mut b, 1024),
            Err(FrameError::TooLarge { .. })
        ));
        let mut b = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            next_frame(&mut b, 1024),
            Err(FrameError::TooSmall(-1))
        ));
    }

    #[test]
    fn splits_complete_frames() {
        let mut b = BytesMut::new();
        b.extend_from_slice(&10u32.to_be_bytes());
        b.extend_from_slice(&[1; 10]);
        b.extend_from_slice(&10u32.to_be_bytes());
        b.extend_from_slice(&[2; 3]);
        assert_eq!(
            next_frame(&mut b, 100).ok().flatten().map(|f| f.len()),
            Some(10)
        );
        assert_eq!(next_frame(&mut b, 100), Ok(None));
    }
}
