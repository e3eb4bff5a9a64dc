//! A tiny MaxMind DB (format 2.0) writer for tests: an IPv4 tree whose
//! networks carry `{"country": {"iso_code": ...}}`, as GeoLite2-Country
//! records do. Enough for the real `maxminddb` reader to look countries up.

use std::net::Ipv4Addr;

fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    assert!(size < 29, "small values only");
    if kind <= 7 {
        out.push((kind << 5) | size as u8);
    } else {
        out.push(size as u8);
        out.push(kind - 7);
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    control(out, 2, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn uint(out: &mut Vec<u8>, kind: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    control(out, kind, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

fn country(iso: &str) -> Vec<u8> {
    let mut out = Vec::new();
    control(&mut out, 7, 1);
    string(&mut out, "country");
    control(&mut out, 7, 1);
    string(&mut out, "iso_code");
    string(&mut out, iso);
    out
}

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(usize),
    Data(usize),
}

/// The bytes of a database mapping each `(network, prefix length)` to its
/// country code.
pub(crate) fn countries(networks: &[(Ipv4Addr, u8, &str)]) -> Vec<u8> {
    let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty; 2]];
    let mut data = Vec::new();
    for &(net, len, iso) in networks {
        let offset = data.len();
        data.extend(country(iso));
        let bits = u32::from(net);
        let mut node = 0;
        for i in 0..len {
            let bit = ((bits >> (31 - i)) & 1) as usize;
            if i + 1 == len {
                nodes[node][bit] = Record::Data(offset);
            } else {
                node = match nodes[node][bit] {
                    Record::Node(n) => n,
                    _ => {
                        nodes.push([Record::Empty; 2]);
                        let n = nodes.len() - 1;
                        nodes[node][bit] = Record::Node(n);
                        n
                    }
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for node in &nodes {
        for record in node {
            let value = match *record {
                Record::Empty => count,
                Record::Node(n) => n,
                Record::Data(offset) => count + 16 + offset,
            };
            out.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
        }
    }
    out.extend([0u8; 16]);
    out.extend(data);
    out.extend(b"\xAB\xCD\xEFMaxMind.com");
    control(&mut out, 7, 9);
    string(&mut out, "node_count");
    uint(&mut out, 6, count as u64);
    string(&mut out, "record_size");
    uint(&mut out, 5, 24);
    string(&mut out, "ip_version");
    uint(&mut out, 5, 4);
    string(&mut out, "database_type");
    string(&mut out, "Test-Country");
    string(&mut out, "languages");
    control(&mut out, 11, 1);
    string(&mut out, "en");
    string(&mut out, "binary_format_major_version");
    uint(&mut out, 5, 2);
    string(&mut out, "binary_format_minor_version");
    uint(&mut out, 5, 0);
    string(&mut out, "build_epoch");
    uint(&mut out, 9, 1_700_000_000);
    string(&mut out, "description");
    control(&mut out, 7, 1);
    string(&mut out, "en");
    string(&mut out, "kurz test countries");
    out
}
