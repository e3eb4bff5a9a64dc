//! User agents: browser, OS, device class, and whether a program rather than
//! a person asked (ADR 0017).

use super::Device;

/// What a user agent string says about the visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub browser: Box<str>,
    pub os: Box<str>,
    pub device: Device,
}

/// Shown when a user agent does not say.
pub const UNKNOWN: &str = "unknown";

/// Link-preview fetchers, crawlers and HTTP libraries, as lower-case
/// substrings. woothee knows the big crawlers; these are the programs that
/// open short links in chats and scripts, which it files as browsers or
/// not at all. `bot` covers Slackbot, Discordbot, TelegramBot,
/// Twitterbot, LinkedInBot and the like; apps' own names are not markers,
/// as their in-app browsers carry them too.
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawler",
    "spider",
    "slurp",
    "facebookexternalhit",
    "facebookcatalog",
    "meta-externalagent",
    "whatsapp",
    "slack-imgproxy",
    "skypeuripreview",
    "embedly",
    "quora link preview",
    "vkshare",
    "bitlybot",
    "iframely",
    "preview",
    "headlesschrome",
    "phantomjs",
    "lighthouse",
    "curl/",
    "wget/",
    "httpie",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "java/",
    "okhttp",
    "apache-httpclient",
    "libwww-perl",
    "lwp::",
    "node-fetch",
    "axios/",
    "undici",
    "reqwest",
    "guzzlehttp",
    "http_request",
    "ruby",
    "postmanruntime",
    "insomnia",
    "wrk/",
];

/// `true` when `user_agent` is a program: a crawler, a link-preview
/// fetcher, an HTTP library, or nothing at all (every browser sends one).
pub fn is_bot(user_agent: Option<&str>) -> bool {
    let Some(ua) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return true;
    };
    let lower = ua.to_ascii_lowercase();
    BOT_MARKERS.iter().any(|m| lower.contains(m))
        || woothee::parser::Parser::new()
            .parse(ua)
            .is_some_and(|r| r.category == "crawler")
}

/// Browser, OS and device class of `user_agent`.
pub fn classify(user_agent: Option<&str>) -> Agent {
    let bot = is_bot(user_agent);
    let parsed = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua));
    let Some(r) = parsed else {
        return Agent {
            browser: UNKNOWN.into(),
            os: UNKNOWN.into(),
            device: if bot { Device::Bot } else { Device::Unknown },
        };
    };
    let known = |s: &str| {
        if s.is_empty() || s == woothee::woothee::VALUE_UNKNOWN {
            UNKNOWN.into()
        } else {
            Box::<str>::from(s)
        }
    };
    let ua = user_agent.unwrap_or_default();
    let device = if bot {
        Device::Bot
    } else if r.os == "iPad"
        || ua.contains("Tablet")
        || (r.os == "Android" && !ua.contains("Mobile"))
    {
        Device::Tablet
    } else {
        match r.category {
            "pc" => Device::Desktop,
            "smartphone" | "mobilephone" => Device::Mobile,
            _ => Device::Unknown,
        }
    };
    Agent {
        browser: known(r.name),
        os: known(r.os),
        device,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real user agents, as browsers, apps and tools send them.
    const TABLE: &[(&str, &str, &str, Device)] = &[
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "Chrome", "Windows 10", Device::Desktop,
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
            "Safari", "Mac OSX", Device::Desktop,
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "Firefox", "Linux", Device::Desktop,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Safari", "iPhone", Device::Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
            "Chrome", "Android", Device::Mobile,
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Safari", "iPad", Device::Tablet,
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "Chrome", "Android", Device::Tablet,
        ),
    ];

    #[test]
    fn browsers_get_their_name_os_and_device() {
        for &(ua, browser, os, device) in TABLE {
            let agent = classify(Some(ua));
            assert_eq!(&*agent.browser, browser, "{ua}");
            assert_eq!(&*agent.os, os, "{ua}");
            assert_eq!(agent.device, device, "{ua}");
            assert!(!is_bot(Some(ua)), "{ua}");
        }
    }

    #[test]
    fn link_preview_fetchers_crawlers_and_libraries_are_bots() {
        let bots = [
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "Slack-ImgProxy (+https://api.slack.com/robots)",
            "Twitterbot/1.0",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "WhatsApp/2.23.20.0 A",
            "TelegramBot (like TwitterBot)",
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "curl/8.5.0",
            "Wget/1.21.4",
            "python-requests/2.31.0",
            "Go-http-client/2.0",
            "okhttp/4.12.0",
            "axios/1.6.2",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
        ];
        for ua in bots {
            assert!(is_bot(Some(ua)), "{ua}");
            assert_eq!(classify(Some(ua)).device, Device::Bot, "{ua}");
        }
    }

    #[test]
    fn no_user_agent_is_a_program() {
        assert!(is_bot(None));
        assert!(is_bot(Some("  ")));
        let agent = classify(None);
        assert_eq!(agent.device, Device::Bot);
        assert_eq!(&*agent.browser, UNKNOWN);
    }

    #[test]
    fn gibberish_is_unknown_but_not_a_bot() {
        let agent = classify(Some("SomethingNobodyKnows/0.1"));
        assert_eq!(agent.device, Device::Unknown);
        assert_eq!(&*agent.browser, UNKNOWN);
        assert_eq!(&*agent.os, UNKNOWN);
    }
}
