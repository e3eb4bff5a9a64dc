//! Dates as Shlink writes and reads them: out, ISO 8601 in UTC to the
//! second (`2025-01-31T10:00:00+00:00`); in, whatever its clients send
//! (RFC 3339, a date-time without offset, read as UTC, or a bare date).

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    t.format(&fmt).unwrap_or_default()
}

/// `None` for text that is no date.
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let basic_offset = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
    );
    if let Ok(t) = OffsetDateTime::parse(text, &basic_offset) {
        return Some(t);
    }
    let local = [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
    ];
    for fmt in local {
        if let Ok(t) = PrimitiveDateTime::parse(text, &fmt) {
            return Some(t.assume_utc());
        }
    }
    Date::parse(text, &format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|d| d.midnight().assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn reads_what_shlink_clients_send() {
        let at = datetime!(2025-03-04 10:20:30 UTC);
        for text in [
            "2025-03-04T10:20:30+00:00",
            "2025-03-04T11:20:30+01:00",
            "2025-03-04T10:20:30Z",
            "2025-03-04T10:20:30.000Z",
            "2025-03-04T12:20:30+0200",
            "2025-03-04T10:20:30",
            "2025-03-04 10:20:30",
        ] {
            assert_eq!(parse(text), Some(at), "{text}");
        }
        assert_eq!(parse("2025-03-04"), Some(datetime!(2025-03-04 0:00 UTC)));
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn writes_utc_to_the_second() {
        let t = datetime!(2025-03-04 11:20:30.5 +01:00);
        assert_eq!(format(t), "2025-03-04T10:20:30+00:00");
    }
}
