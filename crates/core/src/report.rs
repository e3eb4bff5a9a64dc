//! Abuse reports: what anyone may say about a link, and what an admin
//! decided about it (ADR 0021).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use time::OffsetDateTime;

use crate::link::Cursor;

/// What a report says is wrong with a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportReason {
    Phishing,
    Malware,
    Spam,
    Other,
}

impl ReportReason {
    pub const ALL: [Self; 4] = [Self::Phishing, Self::Malware, Self::Spam, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phishing => "phishing",
            Self::Malware => "malware",
            Self::Spam => "spam",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// How a person reads it (the preview page's form).
    pub fn label(self) -> &'static str {
        match self {
            Self::Phishing => "Phishing (it imitates a site to steal passwords or money)",
            Self::Malware => "Malware (it downloads or runs harmful software)",
            Self::Spam => "Spam",
            Self::Other => "Something else",
        }
    }
}

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    Open,
    Resolved,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }
}

/// What an admin did with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The link was disabled for abuse.
    Disable,
    /// The report was unfounded; the link stays as it is.
    Dismiss,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Dismiss => "dismiss",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "disable" => Some(Self::Disable),
            "dismiss" => Some(Self::Dismiss),
            _ => None,
        }
    }
}

/// A stored report. The reporter's network is stored but never read back
/// into this shape: no answer can show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: i64,
    pub link_id: i64,
    pub slug: String,
    pub reason: ReportReason,
    pub details: Option<String>,
    pub status: ReportStatus,
    pub created_at: OffsetDateTime,
    pub resolution: Option<Resolution>,
    pub resolved_at: Option<OffsetDateTime>,
}

/// A report ready to insert: every field checked.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub link_id: i64,
    pub slug: String,
    pub reason: ReportReason,
    pub details: Option<String>,
    /// See [`reporter_network`].
    pub reporter_network: Option<String>,
    pub created_at: OffsetDateTime,
}

/// One page of reports, newest first.
#[derive(Debug, Clone, Copy)]
pub struct ReportQuery {
    pub status: ReportStatus,
    pub limit: u32,
    pub after: Option<Cursor>,
}

/// Which open reports a resolution closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// This one report.
    One(i64),
    /// Every open report of this link.
    OfLink(i64),
}

/// The network a reporter's address belongs to: IPv4 cut to its `/24`,
/// IPv6 to its `/48` (a site). Enough to see that a flood of reports comes
/// from one place, never enough to name a person (ADR 0021).
pub fn reporter_network(ip: IpAddr) -> String {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{}/24", Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << 80);
            format!("{}/48", Ipv6Addr::from(bits))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporter_networks_never_hold_a_full_address() {
        let net = |s: &str| reporter_network(s.parse().expect("ip"));
        assert_eq!(net("192.0.2.77"), "192.0.2.0/24");
        assert_eq!(net("::ffff:192.0.2.77"), "192.0.2.0/24");
        assert_eq!(net("2001:db8:1:2:3:4:5:6"), "2001:db8:1::/48");
    }

    #[test]
    fn names_round_trip() {
        for r in ReportReason::ALL {
            assert_eq!(ReportReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(ReportReason::parse("Phishing"), None);
        for s in [ReportStatus::Open, ReportStatus::Resolved] {
            assert_eq!(ReportStatus::parse(s.as_str()), Some(s));
        }
        for r in [Resolution::Disable, Resolution::Dismiss] {
            assert_eq!(Resolution::parse(r.as_str()), Some(r));
        }
    }
}
