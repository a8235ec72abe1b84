//! The [`Wire`] trait (how one value is read and written at a given API version) and the
//! `kafka_struct!` macro that derives it for a message from a field list annotated with
//! version ranges, mirroring Kafka's JSON message specs. One declaration gives both
//! directions, so every message round-trips in tests with the same code the server uses.

use bytes::{Bytes, BytesMut};

use super::reader::{DecodeResult, Reader};
use super::writer::Writer;

/// Highest version number, for fields present "N+" versions.
pub const MAX: i16 = i16::MAX;

/// Encoded and decoded the same way at a given API version.
pub trait Wire: Sized {
    fn read(r: &mut Reader, version: i16) -> DecodeResult<Self>;
    fn write(&self, w: &mut Writer, version: i16);
}

/// Whether a field exists at `version` (a function, so that generated `0..=MAX`
/// ranges do not trip comparison lints).
#[inline]
pub fn in_range(version: i16, min: i16, max: i16) -> bool {
    version >= min && version <= max
}

/// A 16-byte topic id.
pub type Uuid = [u8; 16];

macro_rules! wire_int {
    ($($t:ty => $read:ident),*) => {$(
        impl Wire for $t {
            fn read(r: &mut Reader, _: i16) -> DecodeResult<Self> {
                r.$read()
            }
            fn write(&self, w: &mut Writer, _: i16) {
                w.$read(*self);
            }
        }
    )*};
}

wire_int!(i8 => i8, i16 => i16, i32 => i32, i64 => i64, bool => bool);

impl Wire for Uuid {
    fn read(r: &mut Reader, _: i16) -> DecodeResult<Self> {
        r.uuid()
    }
    fn write(&self, w: &mut Writer, _: i16) {
        w.uuid(self);
    }
}

impl Wire for String {
    fn read(r: &mut Reader, _: i16) -> DecodeResult<Self> {
        r.string()
    }
    fn write(&self, w: &mut Writer, _: i16) {
        w.string(self);
    }
}

impl Wire for Option<String> {
    fn read(r: &mut Reader, _: i16) -> DecodeResult<Self> {
        r.nullable_string()
    }
    fn write(&self, w: &mut Writer, _: i16) {
        w.nullable_string(self.as_deref());
    }
}

impl Wire for Bytes {
    fn read(r: &mut Reader, _: i16) -> DecodeResult<Self> {
        Ok(r.bytes()?.freeze())
    }
    fn write(&self, w: &mut Writer, _: i16) {
        w.bytes(self);
    }
}

impl Wire for Option<BytesMut> {
    fn read(r: &mut Reader, _: i16) -> DecodeResult<Self> {
        r.nullable_bytes()
    }
    fn write(&self, w: &mut Writer, _: i16) {
        w.nullable_bytes(self.as_deref());
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn read(r: &mut Reader, version: i16) -> DecodeResult<Self> {
        let n = r.array_len()?;
        r.elements(n, |r| T::read(r, version))
    }
    fn write(&self, w: &mut Writer, version: i16) {
        w.array_len(self.len());
        for item in self {
            item.write(w, version);
        }
    }
}

impl<T: Wire> Wire for Option<Vec<T>> {
    fn read(r: &mut Reader, version: i16) -> DecodeResult<Self> {
        match r.nullable_array_len()? {
            None => Ok(None),
            Some(n) => r.elements(n, |r| T::read(r, version)).map(Some),
        }
    }
    fn write(&self, w: &mut Writer, version: i16) {
        w.nullable_array_len(self.as_ref().map(Vec::len));
        for item in self.iter().flatten() {
            item.write(w, version);
        }
    }
}

/// A nullable struct field (Kafka's `"nullableVersions"` on a struct): an i8 marker,
/// -1 for null or 1 for present, then the struct. A newtype because `Option<String>`,
/// `Option<BytesMut>` and `Option<Vec<T>>` already have encodings of their own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Nullable<T>(pub Option<T>);

impl<T: Wire> Wire for Nullable<T> {
    fn read(r: &mut Reader, version: i16) -> DecodeResult<Self> {
        if r.i8()? < 0 {
            return Ok(Nullable(None));
        }
        T::read(r, version).map(|t| Nullable(Some(t)))
    }
    fn write(&self, w: &mut Writer, version: i16) {
        match &self.0 {
            None => w.i8(-1),
            Some(t) => {
                w.i8(1);
                t.write(w, version);
            }
        }
    }
}

/// The record data of a fetch response: stored batches written without copying.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordSet(pub Vec<Bytes>);

impl Wire for RecordSet {
    fn read(r: &mut Reader, _: i16) -> DecodeResult<Self> {
        Ok(RecordSet(
            r.nullable_bytes()?
                .map(|b| vec![b.freeze()])
                .unwrap_or_default(),
        ))
    }
    fn write(&self, w: &mut Writer, _: i16) {
        w.records(Some(&self.0));
    }
}

/// `Default::default()`, or the given default of a field absent in older versions.
macro_rules! default_or {
    () => {
        Default::default()
    };
    ($e:expr) => {
        $e
    };
}
pub(crate) use default_or;

/// Declares a message struct whose fields exist in version ranges (inclusive, like
/// Kafka's "1-3" and "4+" with `MAX`), and derives [`Wire`] for it. Flexible versions end
/// every struct with a tagged-field section: skipped on read, written empty.
macro_rules! kafka_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty [$min:expr, $max:expr] $(= $default:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $crate::codec::wire::default_or!($($default)?), )* }
            }
        }

        impl $crate::codec::wire::Wire for $name {
            #[allow(unused_variables)]
            fn read(
                r: &mut $crate::codec::reader::Reader,
                version: i16,
            ) -> $crate::codec::reader::DecodeResult<Self> {
                $(
                    let $field: $ty = if $crate::codec::wire::in_range(version, $min, $max) {
                        <$ty as $crate::codec::wire::Wire>::read(r, version)?
                    } else {
                        $crate::codec::wire::default_or!($($default)?)
                    };
                )*
                r.tagged_fields()?;
                Ok(Self { $($field,)* })
            }

            #[allow(unused_variables)]
            fn write(&self, w: &mut $crate::codec::writer::Writer, version: i16) {
                $(
                    if $crate::codec::wire::in_range(version, $min, $max) {
                        $crate::codec::wire::Wire::write(&self.$field, w, version);
                    }
                )*
                w.tagged_fields();
            }
        }
    };
}
pub(crate) use kafka_struct;
