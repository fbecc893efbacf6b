//! Reading JSON text into our types: [`from_str`], the one reader every decoder here uses.
//!
//! It is `serde_json::from_str` with one rule added: **a struct is a JSON object**. serde's
//! derive also reads a struct from an array of its fields in order (`["a", 1]`), and
//! `serde_json` offers that to every struct it reads, so each struct's decoder is compiled twice
//! into the wasm modules, once for each shape. No format we read sends structs as arrays (a
//! Genesys reply, a Bayeux message, a stored record or a popup request is always an object), so
//! the array form is only a way for odd input to be read differently than intended.
//!
//! [`Objects`] wraps the deserializer and everything it hands on (visitors, map and sequence
//! access, enum variants), so the rule holds at every depth, and reads a struct as a map: only
//! the object decoder is compiled. Everything else is passed through unchanged; an array where a
//! struct is expected is refused with serde's usual "invalid type: sequence, expected …".

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// `T` from JSON text, structs read from objects only (see the module's doc).
pub fn from_str<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let value = T::deserialize(Objects(&mut reader))?;
    reader.end()?;
    Ok(value)
}

/// A deserializer that reads structs as maps, and wraps what it hands on so that its nested
/// values are read the same way.
struct Objects<D>(D);

/// A visitor whose maps, sequences, options and enums hand out [`Objects`].
struct Wrapped<V>(V);

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method($($arg,)* Wrapped(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Objects<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any() deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32()
        deserialize_i64() deserialize_i128() deserialize_u8() deserialize_u16() deserialize_u32()
        deserialize_u64() deserialize_u128() deserialize_f32() deserialize_f64()
        deserialize_char() deserialize_str() deserialize_string() deserialize_bytes()
        deserialize_byte_buf() deserialize_option() deserialize_unit() deserialize_seq()
        deserialize_map() deserialize_identifier() deserialize_ignored_any()
        deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str)
        deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
    }

    /// The rule: a struct is read as a map, so its visitor's `visit_seq` is never asked for.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(Wrapped(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident: $ty:ty)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.0.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrapped<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        self.0.expecting(f)
    }

    forward_visit! {
        visit_bool: bool visit_i8: i8 visit_i16: i16 visit_i32: i32 visit_i64: i64
        visit_i128: i128 visit_u8: u8 visit_u16: u16 visit_u32: u32 visit_u64: u64
        visit_u128: u128 visit_f32: f32 visit_f64: f64 visit_char: char visit_str: &str
        visit_borrowed_str: &'de str visit_string: String visit_bytes: &[u8]
        visit_borrowed_bytes: &'de [u8] visit_byte_buf: Vec<u8>
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Objects(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(Objects(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Wrapped(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Wrapped(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(Wrapped(data))
    }
}

/// A seed whose value is read through [`Objects`].
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Objects(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrapped<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrapped<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Wrapped<A> {
    type Error = A::Error;
    type Variant = Wrapped<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Wrapped<A::Variant>), A::Error> {
        let (value, variant) = self.0.variant_seed(Seed(seed))?;
        Ok((value, Wrapped(variant)))
    }
}

/// A struct variant's fields, read as a map (the variant's content is one value, as a newtype
/// variant's is).
struct StructFields<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for StructFields<V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_map(Wrapped(self.0))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Wrapped<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrapped(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.newtype_variant_seed(StructFields(visitor))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::from_str;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        a: u32,
        b: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Shape {
        Unit,
        Newtype(Inner),
        Fields { inner: Inner },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        inner: Inner,
        list: Vec<Inner>,
        maybe: Option<Inner>,
        shapes: Vec<Shape>,
    }

    #[test]
    fn objects_read_as_serde_json_reads_them() {
        let text = r#"{"inner":{"a":1,"b":"x"},"list":[{"a":2}],"maybe":{"a":3,"b":null},
            "shapes":["Unit",{"Newtype":{"a":4}},{"Fields":{"inner":{"a":5}}}]}"#;
        let ours: Outer = from_str(text).unwrap();
        let theirs: Outer = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(
            ours.shapes[2],
            Shape::Fields {
                inner: Inner { a: 5, b: None }
            }
        );
    }

    #[test]
    fn a_struct_given_as_an_array_is_refused_at_any_depth() {
        let refused = |err: serde_json::Error| err.to_string().contains("invalid type: sequence");
        assert!(serde_json::from_str::<Inner>(r#"[1,"x"]"#).is_ok());
        assert!(refused(from_str::<Inner>(r#"[1,"x"]"#).unwrap_err()));
        for text in [
            r#"{"inner":[1,"x"],"list":[],"maybe":null,"shapes":[]}"#,
            r#"{"inner":{"a":1},"list":[[2,null]],"maybe":null,"shapes":[]}"#,
            r#"{"inner":{"a":1},"list":[],"maybe":[3,null],"shapes":[]}"#,
            r#"{"inner":{"a":1},"list":[],"maybe":null,"shapes":[{"Newtype":[4,null]}]}"#,
            r#"{"inner":{"a":1},"list":[],"maybe":null,"shapes":[{"Fields":[{"a":5,"b":null}]}]}"#,
        ] {
            assert!(serde_json::from_str::<Outer>(text).is_ok(), "{text}");
            let err = from_str::<Outer>(text).unwrap_err();
            assert!(refused(err), "{text}");
        }
    }

    #[test]
    fn trailing_text_is_refused() {
        assert!(from_str::<Inner>(r#"{"a":1} x"#).is_err());
        assert!(from_str::<Inner>(r#" {"a":1} "#).is_ok());
    }
}
