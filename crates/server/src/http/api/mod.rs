//! The REST API under `/api/v1` (API.md).

pub mod accounts;
pub mod create_body;
pub mod links;
pub mod qr;
pub mod reports;
pub mod review;
pub mod stats;

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
