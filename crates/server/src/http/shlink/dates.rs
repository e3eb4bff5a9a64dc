//! Dates as Shlink writes them: ISO 8601 in UTC to the second
//! (`2025-01-31T10:00:00+00:00`). What its clients send is read by
//! the crate's `dates::parse`.

use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    t.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn writes_utc_to_the_second() {
        let t = datetime!(2025-03-04 11:20:30.5 +01:00);
        assert_eq!(format(t), "2025-03-04T10:20:30+00:00");
    }
}
