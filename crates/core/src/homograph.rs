//! Target hosts that pretend to be another: `pаypal.com` with a Cyrillic
//! `а`, or `раураl.com` written wholly in Cyrillic look-alikes. Phishing
//! links use them to pass a reader's glance (ADR 0022).
//!
//! Two rules, on the host's Unicode form (punycode decoded):
//! - **Mixed scripts**: a label that mixes Latin with Cyrillic or Greek
//!   letters. Real names in those scripts use one script per label.
//! - **Look-alike of a protected domain**: the host's *skeleton* (every
//!   character replaced by the Latin letter it is confused with, per the
//!   Unicode confusables for these scripts, plus `0`/`o` and `1`/`l`) equals
//!   the skeleton of one of `links.protected_domains` or of a subdomain of
//!   it, while the host is not that domain or below it.

use std::collections::HashSet;

/// What is wrong with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookalike {
    /// One label mixes Latin with Cyrillic or Greek.
    MixedScripts,
    /// Looks like this protected domain without being it.
    Imitates(String),
}

/// What an instance does with a look-alike target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LookalikeAction {
    /// Refuse the link (40014).
    #[default]
    Refuse,
    /// Create it, waiting for an admin's review (`pending`).
    Review,
}

/// The protected domains, as skeletons, and what to do on a match.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// Lower-case ASCII (punycode) domains.
    protected: Vec<String>,
    skeletons: HashSet<String>,
    pub action: LookalikeAction,
}

impl HostPolicy {
    /// `protected`: normalised domains (`target::normalise_domain`).
    pub fn new(protected: Vec<String>, action: LookalikeAction) -> Self {
        let skeletons = protected.iter().map(|d| skeleton(&unicode(d))).collect();
        Self {
            protected,
            skeletons,
            action,
        }
    }

    /// Judges a target host (ASCII, as `TargetUrl` keeps it).
    pub fn judge(&self, host: &str) -> Option<Lookalike> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let shown = unicode(&host);
        if shown.split('.').any(mixes_scripts) {
            return Some(Lookalike::MixedScripts);
        }
        if self.skeletons.is_empty() {
            return None;
        }
        let owned = |d: &String| host == *d || host.ends_with(&format!(".{d}"));
        if self.protected.iter().any(owned) {
            return None;
        }
        // The host itself or any parent (`login.pаypal.com`) may imitate.
        let seen = skeleton(&shown);
        let mut rest = seen.as_str();
        loop {
            if self.skeletons.contains(rest) {
                let domain = self
                    .protected
                    .iter()
                    .find(|d| skeleton(&unicode(d)) == rest)
                    .cloned()
                    .unwrap_or_default();
                return Some(Lookalike::Imitates(domain));
            }
            match rest.split_once('.') {
                Some((_, parent)) if parent.contains('.') => rest = parent,
                _ => return None,
            }
        }
    }
}

/// The Unicode form of an ASCII host (labels that are not valid punycode
/// stay as they are).
fn unicode(host: &str) -> String {
    let (text, _) = idna::domain_to_unicode(host);
    text
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Greek,
    Other,
}

fn script(c: char) -> Script {
    match c {
        'a'..='z' | 'A'..='Z' | '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' => Script::Latin,
        '\u{0400}'..='\u{052F}' | '\u{1C80}'..='\u{1C8F}' | '\u{2DE0}'..='\u{2DFF}' => {
            Script::Cyrillic
        }
        '\u{0370}'..='\u{03FF}' | '\u{1F00}'..='\u{1FFF}' => Script::Greek,
        _ => Script::Other,
    }
}

fn mixes_scripts(label: &str) -> bool {
    let (mut latin, mut other) = (false, false);
    for c in label.chars() {
        match script(c) {
            Script::Latin => latin = true,
            Script::Cyrillic | Script::Greek => other = true,
            Script::Other => {}
        }
    }
    latin && other
}

/// The host as a reader may see it: look-alikes folded to Latin.
fn skeleton(host: &str) -> String {
    host.chars().flat_map(fold).collect()
}

fn fold(c: char) -> Vec<char> {
    let latin = match c {
        // Cyrillic
        'а' => 'a',
        'в' | 'ь' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ё' => 'e',
        'һ' => 'h',
        'і' => 'i',
        'ӏ' => 'l',
        'ј' => 'j',
        'к' => 'k',
        'м' => 'm',
        'п' => 'n',
        'о' => 'o',
        'р' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' => 's',
        'т' => 't',
        'и' => 'u',
        'ѵ' => 'v',
        'ԝ' | 'ш' => 'w',
        'х' => 'x',
        'у' => 'y',
        // Greek
        'α' => 'a',
        'β' => 'b',
        'ε' => 'e',
        'η' => 'n',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' | 'σ' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'γ' => 'y',
        'ω' => 'w',
        // Digits and Latin pairs read as letters
        '0' => 'o',
        '1' => 'l',
        'ı' => 'i',
        'ɡ' => 'g',
        _ => return c.to_lowercase().collect(),
    };
    vec![latin]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(protected: &[&str]) -> HostPolicy {
        HostPolicy::new(
            protected.iter().map(|d| (*d).to_owned()).collect(),
            LookalikeAction::Refuse,
        )
    }

    fn ascii(host: &str) -> String {
        idna::domain_to_ascii(host).expect("a valid host")
    }

    #[test]
    fn a_label_mixing_latin_with_cyrillic_or_greek_is_caught() {
        let p = policy(&[]);
        for host in ["pаypal.com", "gοogle.com", "аpple.example"] {
            assert_eq!(
                p.judge(&ascii(host)),
                Some(Lookalike::MixedScripts),
                "{host}"
            );
        }
        for host in [
            "яндекс.рф",
            "example.com",
            "ελληνικά.gr",
            "bücher.de",
            "例子.中国",
        ] {
            assert_eq!(p.judge(&ascii(host)), None, "{host}");
        }
    }

    #[test]
    fn whole_script_look_alikes_of_protected_domains_are_caught_and_the_domain_itself_is_not() {
        let p = policy(&["paypal.com", "example.org"]);
        assert_eq!(
            p.judge(&ascii("раураӏ.com")),
            Some(Lookalike::Imitates("paypal.com".into()))
        );
        assert_eq!(
            p.judge("paypa1.com"),
            Some(Lookalike::Imitates("paypal.com".into()))
        );
        assert_eq!(
            p.judge(&ascii("secure.раура1.com")),
            Some(Lookalike::Imitates("paypal.com".into()))
        );
        for host in [
            "paypal.com",
            "www.paypal.com",
            "PAYPAL.COM.",
            "paypal.co",
            "pay.com",
        ] {
            assert_eq!(p.judge(host), None, "{host}");
        }
    }
}
