//! The blocklist parser over arbitrary text (a feed or a hand-edited file):
//! it never panics, its report is consistent, every entry it keeps blocks
//! itself, and the file it would be written as (one entry a line) reads
//! back as the same list with no bad line.

#![no_main]

use kurz_core::blocklist::{parse, Entry, BAD_LINES_KEPT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (list, report) = parse(text);
    assert!(report.first_bad.len() <= BAD_LINES_KEPT);
    assert!(report.first_bad.len() <= report.bad_lines);
    assert!(report.first_bad.windows(2).all(|w| w[0] < w[1]));
    let lines = text.lines().count().max(1);
    assert!(report.first_bad.iter().all(|&n| n >= 1 && n <= lines));

    let entries = list.entries();
    assert_eq!(entries.len(), list.len());
    for entry in &entries {
        match entry {
            Entry::Domain(d) => {
                assert!(d.is_ascii() && *d == d.to_ascii_lowercase(), "{d:?}");
                assert!(list.blocks_host(d), "{d:?} does not block itself");
                assert!(
                    list.blocks_host(&format!("sub.{d}")),
                    "{d:?} spares its subdomains"
                );
            }
            Entry::Ip(ip) => assert!(list.blocks_ip(*ip), "{ip} does not block itself"),
        }
    }
    let written: String = entries.iter().map(|e| format!("{e}\n")).collect();
    let (again, report) = parse(&written);
    assert_eq!(report.bad_lines, 0, "{written:?}");
    assert_eq!(again, list);
});
