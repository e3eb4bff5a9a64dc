//! Dates as other shorteners and their clients write them: ISO 8601 /
//! RFC 3339 with an offset (Shlink, Kutt), `YYYY-MM-DD HH:MM:SS` in UTC
//! (YOURLS, many CSV files), a bare date, US `MM/DD/YYYY`, or Unix
//! seconds. The importers and Shlink's API read them alike.

use time::format_description::well_known::{Iso8601, Rfc3339};
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// `Ok(None)` for an empty field; `Err` for text that is no date.
pub(crate) fn parse(text: &str) -> Result<Option<OffsetDateTime>, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(Some(at));
    }
    if let Ok(at) = OffsetDateTime::parse(text, &Iso8601::DEFAULT) {
        return Ok(Some(at));
    }
    // An offset without its colon, as in `+0000`.
    let compact = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
    );
    if let Ok(at) = OffsetDateTime::parse(text, compact) {
        return Ok(Some(at));
    }
    let naive = [
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        format_description!("[month]/[day]/[year] [hour]:[minute]:[second]"),
        format_description!("[month]/[day]/[year] [hour]:[minute]"),
    ];
    for format in naive {
        if let Ok(at) = PrimitiveDateTime::parse(text, format) {
            return Ok(Some(at.assume_utc()));
        }
    }
    let days = [
        format_description!("[year]-[month]-[day]"),
        format_description!("[month]/[day]/[year]"),
    ];
    for format in days {
        if let Ok(day) = Date::parse(text, format) {
            return Ok(Some(day.midnight().assume_utc()));
        }
    }
    if let Ok(seconds) = text.parse::<i64>() {
        if let Ok(at) = OffsetDateTime::from_unix_timestamp(seconds) {
            return Ok(Some(at));
        }
    }
    Err(format!("{text:?} is not a date kurz reads"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_sources_spellings_are_read() {
        let at = datetime!(2016-08-21 18:34:16 UTC);
        assert_eq!(parse("2016-08-21T20:34:16+02:00"), Ok(Some(at)));
        assert_eq!(parse("2016-08-21T18:34:16.000Z"), Ok(Some(at)));
        assert_eq!(parse("2016-08-21 18:34:16"), Ok(Some(at)));
        assert_eq!(parse("2016-08-21T18:34:16"), Ok(Some(at)));
        assert_eq!(parse("2016-08-21T18:34:16+0000"), Ok(Some(at)));
        assert_eq!(parse("1471804456"), Ok(Some(at)));
        assert_eq!(
            parse("08/21/2016"),
            Ok(Some(datetime!(2016-08-21 0:00 UTC)))
        );
        assert_eq!(
            parse("2016-08-21T18:34"),
            Ok(Some(datetime!(2016-08-21 18:34 UTC)))
        );
        assert_eq!(parse(" "), Ok(None));
        assert!(parse("yesterday").is_err());
    }
}
