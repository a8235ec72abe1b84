//! Decompression of a record batch's records section, used off the hot path only: to
//! read the records of a compressed batch (ListOffsets by time, stream-queue consumers,
//! forwarding). Produce and Fetch never decompress. Output is capped so that a small stored batch
//! cannot inflate into gigabytes.

use std::io::Read;

use crate::batch::Compression;

/// Largest decompressed records section we are willing to look at.
pub const MAX_DECOMPRESSED: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    #[error("decompressed records exceed {MAX_DECOMPRESSED} bytes")]
    TooLarge,
    #[error("corrupt {0:?} data: {1}")]
    Corrupt(Compression, String),
}

fn read_capped(mut r: impl Read, codec: Compression) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    (&mut r)
        .take(MAX_DECOMPRESSED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecompressError::Corrupt(codec, e.to_string()))?;
    if out.len() > MAX_DECOMPRESSED {
        return Err(DecompressError::TooLarge);
    }
    Ok(out)
}

/// The xerial snappy framing Java producers use: a magic header, then length-prefixed
/// raw snappy blocks. librdkafka writes plain raw snappy; both are accepted.
const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";

fn snappy(data: &[u8]) -> Result<Vec<u8>, DecompressError> {
    let corrupt = |e: String| DecompressError::Corrupt(Compression::Snappy, e);
    let raw = |block: &[u8], out: &mut Vec<u8>| -> Result<(), DecompressError> {
        let len = snap::raw::decompress_len(block).map_err(|e| corrupt(e.to_string()))?;
        if out.len() + len > MAX_DECOMPRESSED {
            return Err(DecompressError::TooLarge);
        }
        let start = out.len();
        out.resize(start + len, 0);
        snap::raw::Decoder::new()
            .decompress(block, &mut out[start..])
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(())
    };
    let mut out = Vec::new();
    if let Some(rest) = data.strip_prefix(XERIAL_MAGIC) {
        // Version and compatible-version ints follow the magic.
        let mut rest = rest
            .get(8..)
            .ok_or_else(|| corrupt("short xerial header".into()))?;
        while !rest.is_empty() {
            let (len, tail) = rest
                .split_at_checked(4)
                .ok_or_else(|| corrupt("short block length".into()))?;
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let (block, tail) = tail
                .split_at_checked(len)
                .ok_or_else(|| corrupt("short block".into()))?;
            raw(block, &mut out)?;
            rest = tail;
        }
    } else {
        raw(data, &mut out)?;
    }
    Ok(out)
}

/// Decompresses the records section (bytes after the 61-byte batch header).
pub fn decompress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, DecompressError> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => read_capped(flate2::read::GzDecoder::new(data), codec),
        Compression::Snappy => snappy(data),
        Compression::Lz4 => read_capped(lz4_flex::frame::FrameDecoder::new(data), codec),
        Compression::Zstd => {
            let d = zstd::stream::read::Decoder::new(data)
                .map_err(|e| DecompressError::Corrupt(codec, e.to_string()))?;
            read_capped(d, codec)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn every_codec_roundtrips() {
        let data: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap_or_default();
        let gz = gz.finish().unwrap_or_default();
        assert_eq!(decompress(Compression::Gzip, &gz).ok(), Some(data.clone()));

        let raw = snap::raw::Encoder::new()
            .compress_vec(&data)
            .unwrap_or_default();
        assert_eq!(
            decompress(Compression::Snappy, &raw).ok(),
            Some(data.clone())
        );
        let mut xerial = XERIAL_MAGIC.to_vec();
        xerial.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        xerial.extend_from_slice(&(raw.len() as u32).to_be_bytes());
        xerial.extend_from_slice(&raw);
        assert_eq!(
            decompress(Compression::Snappy, &xerial).ok(),
            Some(data.clone())
        );

        let mut lz = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz.write_all(&data).unwrap_or_default();
        let lz = lz.finish().unwrap_or_default();
        assert_eq!(decompress(Compression::Lz4, &lz).ok(), Some(data.clone()));

        let zs = zstd::encode_all(&data[..], 1).unwrap_or_default();
        assert_eq!(decompress(Compression::Zstd, &zs).ok(), Some(data));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert!(decompress(codec, b"\x82SNAPPY\x00garbage-garbage").is_err());
            assert!(decompress(codec, &[0xff; 64]).is_err());
        }
    }

    #[test]
    fn bombs_are_capped() {
        let zeros = vec![0u8; MAX_DECOMPRESSED + 10];
        let zs = zstd::encode_all(&zeros[..], 1).unwrap_or_default();
        assert!(matches!(
            decompress(Compression::Zstd, &zs),
            Err(DecompressError::TooLarge)
        ));
    }
}
