//! Capturing a user's value on the recording path without building JSON there.
//!
//! Most attribute values and many event contents are scalars: a tool name, a count, a flag, a
//! short answer. `serde_json::to_value` turns each string into a heap-allocated `String`, and
//! the worker, on another thread, frees it again (measured: the caller's largest cost after the
//! clock). [`Captured::of`] keeps a scalar as it is, a string of up to [`INLINE`] bytes inside the
//! record itself; anything else (a map, a sequence, a struct) still becomes a `serde_json::Value`.
//! The worker turns a captured value into JSON when it builds the batch.

use serde::Serialize;
use serde::ser::{self, Impossible};
use serde_json::{Value, json};
use smallvec::SmallVec;

#[doc(hidden)]
/// Serializes a user value for capture; a value serde cannot encode becomes a description of
/// the failure instead of an error in the caller's code.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|err| json!({"northstar_capture_error": err.to_string()}))
}

/// Bytes a string may have and still live inside its record.
pub(crate) const INLINE: usize = 16;

/// A value as captured: scalars as they are, anything else as JSON. Converts to the same JSON
/// `serde_json::to_value` would have produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Captured {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    /// UTF-8 (it was a `&str`), inline when short.
    Str(SmallVec<[u8; INLINE]>),
    /// Boxed: a structured value allocates anyway, and the box keeps every `Captured` (and so
    /// every attribute slot inline in a span) at 32 bytes instead of `Value`'s 72.
    Json(Box<Value>),
}

// Every attribute slot inline in a span is one of these: keep it small (see `Json`).
const _: () = assert!(std::mem::size_of::<Captured>() <= 32);

impl Captured {
    /// Captures `value`; a value serde cannot encode becomes a description of the failure, as
    /// with [`to_value`].
    pub(crate) fn of<T: Serialize + ?Sized>(value: &T) -> Self {
        value.serialize(Scalar).unwrap_or_else(|NotScalar| Self::Json(Box::new(to_value(value))))
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(b),
            Self::I64(n) => n.into(),
            Self::U64(n) => n.into(),
            Self::F64(n) => n.into(),
            Self::Str(bytes) => Value::String(String::from_utf8(bytes.into_vec()).unwrap_or_else(|e| {
                // Unreachable: the bytes were a `&str`. Kept total rather than panicking.
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            })),
            Self::Json(v) => *v,
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        self.clone().into_value()
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        #[expect(clippy::cast_precision_loss, reason = "as serde_json's Value::as_f64")]
        match self {
            Self::I64(n) => Some(*n as f64),
            Self::U64(n) => Some(*n as f64),
            Self::F64(n) => Some(*n),
            Self::Json(v) => v.as_f64(),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(bytes) => std::str::from_utf8(bytes).ok(),
            Self::Json(v) => v.as_str(),
            _ => None,
        }
    }
}

impl From<Value> for Captured {
    fn from(v: Value) -> Self {
        Self::Json(Box::new(v))
    }
}

/// What [`Scalar`] answers for a value that is not one: capture it as JSON instead.
#[derive(Debug)]
struct NotScalar;

impl std::fmt::Display for NotScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a scalar")
    }
}

impl std::error::Error for NotScalar {}

impl ser::Error for NotScalar {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Self
    }
}

/// A serializer that accepts one scalar and refuses anything made of parts (serde's
/// [`Impossible`] is there for exactly this).
struct Scalar;

type Refused = Impossible<Captured, NotScalar>;

impl ser::Serializer for Scalar {
    type Ok = Captured;
    type Error = NotScalar;
    type SerializeSeq = Refused;
    type SerializeTuple = Refused;
    type SerializeTupleStruct = Refused;
    type SerializeTupleVariant = Refused;
    type SerializeMap = Refused;
    type SerializeStruct = Refused;
    type SerializeStructVariant = Refused;

    fn serialize_bool(self, v: bool) -> Result<Captured, NotScalar> {
        Ok(Captured::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Captured, NotScalar> {
        Ok(Captured::I64(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Captured, NotScalar> {
        Ok(Captured::I64(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Captured, NotScalar> {
        Ok(Captured::I64(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Captured, NotScalar> {
        Ok(Captured::I64(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Captured, NotScalar> {
        Ok(Captured::U64(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Captured, NotScalar> {
        Ok(Captured::U64(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Captured, NotScalar> {
        Ok(Captured::U64(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Captured, NotScalar> {
        Ok(Captured::U64(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Captured, NotScalar> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<Captured, NotScalar> {
        // serde_json keeps no NaN or infinity: they become null.
        Ok(if v.is_finite() { Captured::F64(v) } else { Captured::Null })
    }
    fn serialize_char(self, v: char) -> Result<Captured, NotScalar> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<Captured, NotScalar> {
        Ok(Captured::Str(SmallVec::from_slice(v.as_bytes())))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Captured, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_none(self) -> Result<Captured, NotScalar> {
        Ok(Captured::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Captured, NotScalar> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Captured, NotScalar> {
        Ok(Captured::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Captured, NotScalar> {
        Ok(Captured::Null)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Captured, NotScalar> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Captured, NotScalar> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Captured, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Refused, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_tuple(self, _: usize) -> Result<Refused, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Refused, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Refused, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Refused, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Refused, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Refused, NotScalar> {
        Err(NotScalar)
    }
}

#[cfg(test)]
mod tests {
    use super::Captured;
    use serde::Serialize;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    enum Choice {
        Plain,
        Tagged(u8),
    }

    #[derive(Serialize)]
    struct Wrapped(&'static str);

    #[derive(Serialize)]
    struct Args {
        query: &'static str,
        limit: u8,
    }

    /// The reference is `to_value`: serde_json, with a failure described rather than raised.
    fn same_as_serde_json<T: Serialize>(value: T) {
        assert_eq!(Captured::of(&value).into_value(), crate::capture::to_value(&value));
    }

    #[test]
    fn every_kind_of_value_becomes_the_json_serde_json_would_make() {
        same_as_serde_json(true);
        same_as_serde_json(-7_i8);
        same_as_serde_json(i64::MIN);
        same_as_serde_json(u64::MAX);
        same_as_serde_json(1.5_f32);
        same_as_serde_json(f64::NAN);
        same_as_serde_json(f64::INFINITY);
        same_as_serde_json('é');
        same_as_serde_json("short");
        same_as_serde_json("a string much longer than the inline sixteen bytes, with ünïcode");
        same_as_serde_json(String::new());
        same_as_serde_json(None::<u8>);
        same_as_serde_json(Some("x"));
        same_as_serde_json(());
        same_as_serde_json(Choice::Plain);
        same_as_serde_json(Choice::Tagged(3));
        same_as_serde_json(Wrapped("inner"));
        same_as_serde_json(Args { query: "rust", limit: 3 });
        same_as_serde_json(vec![1, 2, 3]);
        same_as_serde_json(BTreeMap::from([("k", json!([1, {"a": null}]))]));
        same_as_serde_json(json!({"already": "json"}));
        same_as_serde_json(&b"bytes"[..]);
        same_as_serde_json(u128::MAX);
        assert!(Captured::of(&u128::MAX).into_value().get("northstar_capture_error").is_some());
    }

    #[test]
    fn scalars_are_kept_without_json_and_short_strings_inline() {
        assert!(matches!(Captured::of("3 documents"), Captured::Str(s) if !s.spilled()));
        assert!(matches!(Captured::of(&1), Captured::I64(1)));
        assert!(matches!(Captured::of(&json!([1])), Captured::Json(_)));
        assert_eq!(Captured::of("gpt-4o").as_str(), Some("gpt-4o"));
        assert_eq!(Captured::of(&0.25).as_f64(), Some(0.25));
    }
}
