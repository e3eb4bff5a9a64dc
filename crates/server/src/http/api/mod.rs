//! The REST API under `/api/v1` (API.md).

pub mod accounts;
pub mod links;
pub mod qr;
pub mod reports;
pub mod review;
pub mod stats;

use std::fmt;
use std::marker::PhantomData;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`), for
/// PATCH bodies where `null` clears.
pub(crate) fn nullable<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Opaque page cursors: a time in milliseconds and an ID, where the next
/// page of a newest-first list starts.
pub(crate) mod cursor {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use kurz_core::error::Field;

    use crate::http::error::ApiError;

    pub(crate) fn encode(at_ms: i64, id: i64) -> String {
        URL_SAFE_NO_PAD.encode(format!("{at_ms}.{id}"))
    }

    pub(crate) fn decode(text: &str) -> Result<(i64, i64), ApiError> {
        let bad =
            || ApiError::invalid(Field::Cursor, "the cursor is not one this service gave out");
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (at, id) = raw.split_once('.').ok_or_else(bad)?;
        Ok((
            at.parse().map_err(|_| bad())?,
            id.parse().map_err(|_| bad())?,
        ))
    }
}

/// RFC 3339 in UTC, as every timestamp of the API.
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A JSON array of which at most `N` elements are kept: past that, the rest
/// is skipped without being built and the array counts as too long. A body
/// with 100,000 tags thus costs one linear scan of its bytes, not 100,000
/// strings and the checks on each.
#[derive(Debug)]
pub(crate) struct Capped<T, const N: usize> {
    items: Vec<T>,
    overflowed: bool,
}

impl<T, const N: usize> Default for Capped<T, N> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            overflowed: false,
        }
    }
}

impl<T, const N: usize> Capped<T, N> {
    /// The elements; `None` when the array had more than `N`.
    pub(crate) fn into_inner(self) -> Option<Vec<T>> {
        (!self.overflowed).then_some(self.items)
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Capped<T, N> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Elements<T, const N: usize>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for Elements<T, N> {
            type Value = Capped<T, N>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(N));
                while items.len() < N {
                    match seq.next_element()? {
                        Some(item) => items.push(item),
                        None => {
                            return Ok(Capped {
                                items,
                                overflowed: false,
                            })
                        }
                    }
                }
                let mut overflowed = false;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    overflowed = true;
                }
                Ok(Capped { items, overflowed })
            }
        }

        de.deserialize_seq(Elements(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_arrays_keep_up_to_n_and_flag_longer_ones() {
        let read = |json: &str| {
            serde_json::from_str::<Capped<String, 2>>(json)
                .expect("valid JSON")
                .into_inner()
        };
        assert_eq!(read("[]"), Some(vec![]));
        assert_eq!(read(r#"["a","b"]"#), Some(vec!["a".into(), "b".into()]));
        assert_eq!(read(r#"["a","b","c"]"#), None);
        assert_eq!(read(r#"["a","b",{"any":[1,2]},3]"#), None);
        assert!(serde_json::from_str::<Capped<String, 2>>(r#"[1]"#).is_err());
        assert!(serde_json::from_str::<Capped<String, 2>>(r#""a""#).is_err());
    }
}
