//! What both fuzz targets check beyond "no panic": the heap a decode call holds stays
//! proportional to the bytes it was given (a length on the wire never sizes an
//! allocation), and every packet the decoder accepts re-encodes and decodes to itself.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use trident_mqtt::codec::{Decoder, Packet, encode};

/// The system allocator, counting the bytes live and the peak since the last
/// [`Watermark::start`]. libFuzzer runs the target on one thread, so relaxed atomics
/// suffice.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn note_alloc(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        note_alloc(new_size);
        // SAFETY: as for `dealloc` and `alloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Heap a decoder may hold per byte of input. A decoded packet owns its strings and
/// lists; the worst case is a list of tiny entries in a doubled `Vec`: an UNSUBSCRIBE
/// filter is a 24-byte `String` for 3 bytes of wire, a user property 48 bytes of
/// tuple for 5 (plus the strings themselves).
pub const HEAP_PER_INPUT_BYTE: usize = 32;
/// Fixed overhead: a boxed CONNECT or CONNACK, an error's copy of a topic, the
/// `Bytes` header a split buffer gets.
pub const HEAP_SLACK: usize = 4096;

/// The peak of live heap above the level at `start`.
#[derive(Debug)]
pub struct Watermark(usize);

impl Watermark {
    pub fn start() -> Self {
        let live = LIVE.load(Ordering::Relaxed);
        PEAK.store(live, Ordering::Relaxed);
        Self(live)
    }

    /// Panics (a finding for libFuzzer) if the peak since `start` exceeded the bound
    /// for `input_len` bytes.
    pub fn check(self, input_len: usize, what: &str) {
        let grown = PEAK.load(Ordering::Relaxed).saturating_sub(self.0);
        let bound = HEAP_PER_INPUT_BYTE * input_len + HEAP_SLACK;
        assert!(
            grown <= bound,
            "{what}: {grown} bytes of heap for {input_len} bytes of input (bound {bound})"
        );
    }
}

/// A packet the decoder accepted must be one the encoder can write, and writing it
/// must give bytes that decode to the same packet.
pub fn assert_re_encodes(decoder: &Decoder, packet: &Packet) {
    let version = match packet {
        Packet::Connect(c) => c.version,
        _ => decoder.version(),
    };
    let mut buf = BytesMut::new();
    if let Err(e) = encode(packet, version, &mut buf) {
        panic!("decoded {packet:?} but cannot encode it: {e}");
    }
    let again = match packet {
        Packet::Connect(_) => {
            trident_mqtt::codec::decode_connect(&mut buf, trident_mqtt::codec::MAX_PACKET_SIZE)
                .map(|c| c.map(|c| Packet::Connect(Box::new(c))))
                .map_err(|e| e.error)
        }
        _ => Decoder::new(decoder.side(), decoder.version()).decode(&mut buf),
    };
    assert_eq!(again.as_ref(), Ok(&Some(packet.clone())), "re-encoded {packet:?}");
    assert!(buf.is_empty(), "re-encoded {packet:?} left {buf:?}");
}
