//! The UI's two languages: English and Simplified Chinese. Every string a
//! page shows comes from a catalog under `crates/server/i18n/<lang>/`, one
//! TOML file per area; `[section] key = "..."` is looked up as
//! `"section.key"`. Catalogs are compiled in, so a page never reads a file.
//!
//! A visitor's language is the one they chose with the switch (a cookie),
//! else the best match of `Accept-Language`, else English.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::LazyLock;

/// The catalog files, by area. A new area is a file in both folders and a
/// line here; `tests::catalogs_have_the_same_keys` keeps them in step.
const AREAS: &[(&str, &str, &str)] = &[
    (
        "common",
        include_str!("../../../i18n/en/common.toml"),
        include_str!("../../../i18n/zh-CN/common.toml"),
    ),
    (
        "errors",
        include_str!("../../../i18n/en/errors.toml"),
        include_str!("../../../i18n/zh-CN/errors.toml"),
    ),
    (
        "home",
        include_str!("../../../i18n/en/home.toml"),
        include_str!("../../../i18n/zh-CN/home.toml"),
    ),
    (
        "links",
        include_str!("../../../i18n/en/links.toml"),
        include_str!("../../../i18n/zh-CN/links.toml"),
    ),
    (
        "stats",
        include_str!("../../../i18n/en/stats.toml"),
        include_str!("../../../i18n/zh-CN/stats.toml"),
    ),
    (
        "keys",
        include_str!("../../../i18n/en/keys.toml"),
        include_str!("../../../i18n/zh-CN/keys.toml"),
    ),
    (
        "admin",
        include_str!("../../../i18n/en/admin.toml"),
        include_str!("../../../i18n/zh-CN/admin.toml"),
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    ZhCn,
}

impl Lang {
    pub const ALL: [Self; 2] = [Self::En, Self::ZhCn];

    /// The BCP 47 tag: `lang` attributes, `Content-Language`, the cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::ZhCn => "zh-CN",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::ZhCn => "简体中文",
        }
    }

    /// A tag as a cookie or a form sends it, in any case; `zh`, `zh-Hans`
    /// and `zh-CN` are all Simplified Chinese.
    pub fn parse(tag: &str) -> Option<Self> {
        let tag = tag.trim().to_ascii_lowercase();
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        match primary {
            "en" => Some(Self::En),
            // Traditional Chinese readers are better served by English
            // than by the simplified script they did not ask for.
            "zh" if !(tag.contains("hant") || tag.ends_with("-tw") || tag.ends_with("-hk")) => {
                Some(Self::ZhCn)
            }
            _ => None,
        }
    }

    /// The best of our languages for an `Accept-Language` header: the
    /// highest `q` among those we have, the first of equals; English when
    /// none matches.
    pub fn negotiate(accept_language: &str) -> Self {
        let mut best: Option<(Self, f32)> = None;
        for item in accept_language.split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            if let Some(lang) = Self::parse(tag) {
                if best.is_none_or(|(_, bq)| q > bq) {
                    best = Some((lang, q));
                }
            }
        }
        best.map_or(Self::En, |(lang, _)| lang)
    }

    fn index(self) -> usize {
        match self {
            Self::En => 0,
            Self::ZhCn => 1,
        }
    }
}

type Catalog = HashMap<String, String>;

static CATALOGS: LazyLock<[Catalog; 2]> = LazyLock::new(|| {
    let mut en = Catalog::new();
    let mut zh = Catalog::new();
    for (area, en_text, zh_text) in AREAS {
        load(&mut en, area, en_text);
        load(&mut zh, area, zh_text);
    }
    [en, zh]
});

/// Flattens `[section] key = "text"` into `section.key`. The files are
/// compiled in and checked by the tests, so a broken one is a build defect,
/// not a runtime condition.
fn load(into: &mut Catalog, area: &str, text: &str) {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => panic!("i18n catalog {area} does not parse: {e}"),
    };
    flatten(into, "", &table);
}

fn flatten(into: &mut Catalog, prefix: &str, table: &toml::Table) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(s) => {
                into.insert(full, s.clone());
            }
            toml::Value::Table(t) => flatten(into, &full, t),
            other => panic!("i18n key {full} is not text: {other}"),
        }
    }
}

/// The strings of one language, as pages use them: `{{ t.get("home.title") }}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tr(pub Lang);

impl Tr {
    /// The text of `key`; a missing key shows as itself (the tests keep
    /// that from shipping).
    pub fn get<'k>(&self, key: &'k str) -> &'k str
    where
        'static: 'k,
    {
        CATALOGS[self.0.index()]
            .get(key)
            .map_or(key, String::as_str)
    }

    /// `key`'s text with `{0}` replaced.
    pub fn fmt1(&self, key: &str, a: impl Display) -> String {
        self.owned(key).replace("{0}", &a.to_string())
    }

    /// `key`'s text with `{0}` and `{1}` replaced.
    pub fn fmt2(&self, key: &str, a: impl Display, b: impl Display) -> String {
        self.owned(key)
            .replace("{0}", &a.to_string())
            .replace("{1}", &b.to_string())
    }

    /// `key`'s text, owned (for keys built at run time).
    pub fn owned(&self, key: &str) -> String {
        CATALOGS[self.0.index()]
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_owned())
    }

    /// Whether the catalog has `key` (for optional texts, such as a
    /// translated error message).
    pub fn has(&self, key: &str) -> bool {
        CATALOGS[self.0.index()].contains_key(key)
    }

    /// A number with thousands grouped, as both languages write it.
    pub fn num(&self, n: impl Into<i128>) -> String {
        group_thousands(n.into())
    }
}

fn group_thousands(n: i128) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", super::chart::group(n.unsigned_abs(), ','))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn catalogs_have_the_same_keys() {
        let [en, zh] = &*CATALOGS;
        let en_keys: BTreeSet<_> = en.keys().collect();
        let zh_keys: BTreeSet<_> = zh.keys().collect();
        let only_en: Vec<_> = en_keys.difference(&zh_keys).collect();
        let only_zh: Vec<_> = zh_keys.difference(&en_keys).collect();
        assert!(only_en.is_empty(), "missing in zh-CN: {only_en:?}");
        assert!(only_zh.is_empty(), "missing in en: {only_zh:?}");
        assert!(en.values().chain(zh.values()).all(|v| !v.trim().is_empty()));
    }

    /// Every key a template or a UI module names exists: a typo would
    /// otherwise show the key itself on the page.
    #[test]
    fn every_key_used_exists() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for dir in ["templates/ui", "src/http/ui", "src/http/pages.rs"] {
            collect(&std::path::Path::new(root).join(dir), &mut sources);
        }
        assert!(!sources.is_empty());
        let [en, _] = &*CATALOGS;
        let mut missing = BTreeSet::new();
        for text in &sources {
            for call in ["get(\"", "fmt1(\"", "fmt2(\"", "owned(\"", "has(\""] {
                for (at, _) in text.match_indices(call) {
                    let rest = &text[at + call.len()..];
                    let Some(end) = rest.find('"') else { continue };
                    let key = &rest[..end];
                    // Built keys (`errors.e{code}`) are checked where built.
                    if key.contains('.') && !key.contains('{') && !en.contains_key(key) {
                        missing.insert(key.to_owned());
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys used but not in the catalogs: {missing:?}"
        );
    }

    fn collect(dir: &std::path::Path, into: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            if let Ok(text) = std::fs::read_to_string(dir) {
                into.push(text);
            }
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect(&path, into);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                into.push(text);
            }
        }
    }

    #[test]
    fn accept_language_picks_the_best_of_ours() {
        assert_eq!(Lang::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Lang::ZhCn);
        assert_eq!(Lang::negotiate("en-US,en;q=0.9,zh;q=0.8"), Lang::En);
        assert_eq!(Lang::negotiate("fr-FR, zh;q=0.5"), Lang::ZhCn);
        assert_eq!(Lang::negotiate("de, fr"), Lang::En);
        assert_eq!(Lang::negotiate(""), Lang::En);
        assert_eq!(Lang::negotiate("zh-TW"), Lang::En);
        assert_eq!(Lang::negotiate("en;q=0.2, zh-Hans;q=0.7"), Lang::ZhCn);
        assert_eq!(Lang::negotiate("zh;q=0"), Lang::En);
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        let t = Tr(Lang::En);
        assert_eq!(t.num(0), "0");
        assert_eq!(t.num(999), "999");
        assert_eq!(t.num(1000), "1,000");
        assert_eq!(t.num(-1_234_567), "-1,234,567");
    }

    #[test]
    fn missing_keys_show_as_themselves_and_arguments_fill_in() {
        let t = Tr(Lang::En);
        const MISSING: &str = "no.such.key";
        assert_eq!(t.get(MISSING), MISSING);
        assert_eq!(t.fmt1("no.{0}", 5), "no.5");
    }
}
