//! The JSON body of `POST /api/v1/links` and its reading into the core's
//! [`CreateLink`].
//!
//! This file names only serde, time, utoipa and kurz-core, never the rest of
//! the server, because the `create_body` fuzz target compiles this same file
//! (`#[path]`): building all of kurz-server (about 385 crates) under the
//! fuzzer's instrumentation would cost every CI run many minutes. Errors are
//! the core's [`LinkError`], which the server maps to its API codes like the
//! use case's own.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use kurz_core::clock::{from_millis, to_millis};
use kurz_core::error::{Field, LinkError};
use kurz_core::service::links::MAX_TAGS;
use kurz_core::service::CreateLink;

/// Most tags read from one request. Repeats are allowed (the core keeps
/// each tag once, at most [`MAX_TAGS`]), but not without end.
pub(crate) const RAW_TAGS: usize = MAX_TAGS * 4;

pub(crate) type Tags = Capped<String, RAW_TAGS>;

/// The tags of a body, or the error for a list longer than [`RAW_TAGS`].
pub(crate) fn tags(raw: Tags) -> Result<Vec<String>, LinkError> {
    raw.into_inner().ok_or_else(|| {
        LinkError::invalid(
            Field::Tags,
            format!("a link has at most {MAX_TAGS} tags, and a request lists at most {RAW_TAGS}"),
        )
    })
}

/// An RFC 3339 time of a body, cut to the milliseconds every store keeps;
/// `name` is the field's name in the body, for the message.
pub(crate) fn parse_time(
    field: Field,
    name: &str,
    value: &str,
) -> Result<OffsetDateTime, LinkError> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map(|t| from_millis(to_millis(t)))
        .map_err(|_| LinkError::invalid(field, format!("{name} must be an RFC 3339 timestamp")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLinkRequest {
    /// The target: an absolute http or https URL.
    url: Option<String>,
    /// A custom slug: 1 to 64 characters of `[A-Za-z0-9_-]`.
    alias: Option<String>,
    /// RFC 3339; must be in the future.
    expires_at: Option<String>,
    /// At least 1.
    max_visits: Option<i64>,
    password: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    tags: Tags,
    title: Option<String>,
    /// 301, 302, 307 or 308.
    redirect_status: Option<u16>,
    #[serde(default)]
    forward_query: bool,
    /// Return the caller's existing link to the same URL (200) instead of
    /// making a new one.
    #[serde(default)]
    reuse: bool,
}

impl CreateLinkRequest {
    /// The core's request; the checks that need the body's own shape (the
    /// time's syntax, the raw tag count) are made here, all others by the
    /// use case.
    pub(crate) fn into_create(self) -> Result<CreateLink, LinkError> {
        let expires_at = self
            .expires_at
            .as_deref()
            .map(|t| parse_time(Field::ExpiresAt, "expires_at", t))
            .transpose()?;
        Ok(CreateLink {
            url: self.url.unwrap_or_default(),
            alias: self.alias,
            expires_at,
            max_visits: self.max_visits,
            password: self.password,
            tags: tags(self.tags)?,
            title: self.title,
            redirect_status: self.redirect_status,
            forward_query: self.forward_query,
            reuse: self.reuse,
            ..CreateLink::default()
        })
    }
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

    /// The checks made while reading the body give the same field errors
    /// (and so the same API codes and messages) as before they moved here.
    #[test]
    fn body_errors_name_their_field() {
        let read = |json: &str| {
            serde_json::from_str::<CreateLinkRequest>(json)
                .expect("a valid body")
                .into_create()
        };
        match read(r#"{"url":"https://example.com/","expires_at":"tomorrow"}"#) {
            Err(LinkError::Invalid { field, message }) => {
                assert_eq!(field, Field::ExpiresAt);
                assert_eq!(message, "expires_at must be an RFC 3339 timestamp");
            }
            other => panic!("{other:?}"),
        }
        let many = format!(
            r#"{{"url":"https://example.com/","tags":[{}]}}"#,
            vec![r#""t""#; RAW_TAGS + 1].join(",")
        );
        assert!(matches!(
            read(&many),
            Err(LinkError::Invalid {
                field: Field::Tags,
                ..
            })
        ));
        let ok =
            read(r#"{"url":"https://example.com/","expires_at":"2099-01-01T00:00:00.123456Z"}"#)
                .expect("a valid body");
        assert_eq!(ok.url, "https://example.com/");
        assert_eq!(ok.expires_at.map(|t| t.nanosecond()), Some(123_000_000));
        assert!(serde_json::from_str::<CreateLinkRequest>(r#"{"owner":"x"}"#).is_err());
    }
}
