//! Form fields as browsers send them, read into the core's types: an empty
//! field is no value, times come from `datetime-local` inputs (in UTC, as
//! the pages say), tags are one comma-separated field.

use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use kurz_core::error::{Field, LinkError};

/// A text field, `None` when empty or only spaces.
pub fn text(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

/// A secret field: kept exactly as typed (spaces are part of a password),
/// `None` when empty.
pub fn secret(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// Comma-separated tags, each trimmed; empty ones dropped.
pub fn tags(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A `datetime-local` value (`2026-12-01T09:30`, seconds optional), read as
/// UTC.
pub fn time(field: Field, value: &str) -> Result<Option<OffsetDateTime>, LinkError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(v, minutes)
        .or_else(|_| PrimitiveDateTime::parse(v, seconds))
        .map(|t| Some(t.assume_utc()))
        .map_err(|_| LinkError::invalid(field, "a date and time is written 2026-12-31T23:59 (UTC)"))
}

/// The value for a `datetime-local` input.
pub fn time_value(t: Option<OffsetDateTime>) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    t.and_then(|t| t.to_offset(time::UtcOffset::UTC).format(format).ok())
        .unwrap_or_default()
}

/// A whole number, `None` when empty.
pub fn number(field: Field, value: &str) -> Result<Option<i64>, LinkError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| LinkError::invalid(field, "a whole number is expected"))
}

/// A redirect status from a select: empty is the instance's default.
pub fn status(value: &str) -> Result<Option<u16>, LinkError> {
    number(Field::RedirectStatus, value)?
        .map(|n| {
            u16::try_from(n)
                .map_err(|_| LinkError::invalid(Field::RedirectStatus, "301, 302, 307 or 308"))
        })
        .transpose()
}

/// A checkbox: present (any value) when ticked.
pub fn checked(value: Option<&str>) -> bool {
    value.is_some()
}

/// A time as pages show it: `2026-11-27 14:05 UTC`.
pub fn show_time(t: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_no_value() {
        assert_eq!(text("  "), None);
        assert_eq!(text(" a "), Some("a".into()));
        assert_eq!(secret(" pw "), Some(" pw ".into()));
        assert_eq!(secret(""), None);
        assert_eq!(number(Field::MaxVisits, "").ok(), Some(None));
        assert!(number(Field::MaxVisits, "ten").is_err());
        assert_eq!(status("").ok(), Some(None));
        assert_eq!(status("307").ok(), Some(Some(307)));
        assert!(status("99999").is_err());
    }

    #[test]
    fn tags_are_split_on_commas() {
        assert_eq!(tags(" a, b ,,c "), vec!["a", "b", "c"]);
        assert!(tags("").is_empty());
    }

    #[test]
    fn local_times_are_utc_and_round_trip() {
        let t = time(Field::ExpiresAt, "2030-01-02T03:04").ok().flatten();
        let t = t.expect("parsed");
        assert_eq!(t.unix_timestamp(), 1_893_553_440);
        assert_eq!(time_value(Some(t)), "2030-01-02T03:04");
        assert!(time(Field::ExpiresAt, "tomorrow").is_err());
        assert_eq!(show_time(t), "2030-01-02 03:04 UTC");
    }
}
