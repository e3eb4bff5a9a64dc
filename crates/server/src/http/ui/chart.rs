//! Link statistics as server-rendered SVG charts that need no script.
//!
//! Each function returns a [`Chart`]: the `<svg>` and, for screen readers, a
//! `<table class="visually-hidden chart-table">` with the same numbers (the
//! SVG is `role="img"`, so its per-column tooltips are not read out). Place
//! both, or [`Chart::html`] which wraps them in `<figure class="chart">`.
//!
//! # Layout
//!
//! The outer `<svg>` has `width="100%"`, a fixed pixel height and no
//! `viewBox`, so its user units are CSS pixels: text keeps its size on a
//! 360 px phone instead of shrinking with the drawing. Positions along the
//! width are percentages; the series itself is drawn in a nested
//! `<svg viewBox="0 0 {slots} 160" preserveAspectRatio="none">` that
//! stretches to the width (its strokes are `non-scaling-stroke`). Y tick
//! labels sit just above their grid lines inside the plot (no left margin
//! to guess a width for), with a white halo over the columns.
//!
//! # Styling under `style-src 'self'`
//!
//! No `style` attribute and no `<style>` element. Every element carries
//! presentation attributes (`fill`, `stroke`, ...) that look right without a
//! stylesheet, AA contrast on white; a class rule in the site stylesheet
//! overrides a presentation attribute, so these classes are the styling
//! hooks (e.g. for a dark theme):
//!
//! | class | element | default |
//! |---|---|---|
//! | `chart` | every root `<svg>`, and the `<figure>` of [`Chart::html`] | `font-family="system-ui,sans-serif" font-size="12"` |
//! | `chart-series`, `chart-breakdown`, `chart-split` | root `<svg>` of each kind | |
//! | `chart-plot` | nested `<svg>` holding the series marks | |
//! | `chart-grid` | `<g>` of horizontal grid lines and x tick marks | `stroke="#e5e7eb"` |
//! | `chart-baseline` | the zero line | `stroke="#6b7280"` |
//! | `chart-axis` | `<g>` of tick labels (`<text>`) | `fill="#4b5563"` (7.6:1), white halo `stroke="#fff"` |
//! | `chart-bar` | a column, or a breakdown bar | `fill="#2563eb"` (5.2:1) |
//! | `chart-area` | area under the line (long series) | `fill="#2563eb" fill-opacity=".15"` |
//! | `chart-line` | the line (long series) | `stroke="#1d4ed8"` |
//! | `chart-hit` | transparent full-height rect per bucket carrying the `<title>` tooltip; `.chart-hit:hover{fill-opacity:.08}` highlights without script | `fill="#000" fill-opacity="0"` |
//! | `chart-name` | breakdown row name | `fill="#111827"` |
//! | `chart-unknown` | added to `chart-name` for unknown / direct | `fill="#4b5563" font-style="italic"` |
//! | `chart-value` | count and percent text | `fill="#374151"` |
//! | `chart-humans`, `chart-bots` | the two parts and their legend swatches | `fill="#2563eb"`, `fill="#b45309"` (5.0:1) |
//! | `chart-track` | empty bar when there is nothing to split | `fill="#e5e7eb"` |
//! | `chart-empty` | the "no data" text | `fill="#4b5563"` |
//! | `visually-hidden`, `chart-table` | the `<table>`; the stylesheet must hide `.visually-hidden` visually only | |
//!
//! # Escaping
//!
//! Names come from visitors. Everything put into text or attributes goes
//! through `esc`, which also drops characters XML cannot carry (most C0
//! controls) and bidi overrides, so a hostile name can neither break the
//! markup nor reorder the text around it.
//!
//! Output is deterministic and compact: coordinates have at most one
//! decimal, no whitespace between elements.

use std::fmt::Write as _;

use kurz_core::analytics::Named;
use kurz_core::service::stats::{Bucket, Interval};
use time::OffsetDateTime;

use crate::http::pages::escape;

/// Appends formatted text to a `String`, which cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// Height of the series plot area, px.
const PLOT_H: u32 = 160;
/// Room above the top grid line for its label, px.
const TOP: u32 = 18;
/// Room below the plot for two lines of x labels, px.
const BOTTOM: u32 = 36;
/// Y grid intervals aimed for: at most this many steps above zero.
const Y_INTERVALS: u64 = 4;
/// Most x labels: six fit a 360 px phone even for "Jun 2024" or "6月15日".
const MAX_X_LABELS: usize = 6;
/// Longer series are drawn as a line, where columns would be thinner than
/// a few pixels on a phone.
const MAX_COLUMNS: usize = 62;
/// Columns are laid out in at least this many slots, so one bucket is a
/// column and not a wall.
const MIN_SLOTS: usize = 7;
/// Breakdown row height, px: a name line and a bar below it.
const ROW_H: u64 = 34;
/// Width budget of a shown name, in narrow characters (a CJK character
/// counts two): leaves room on the same line for the count at 360 px.
const NAME_WIDTH: usize = 30;

const BLUE: &str = "#2563eb";
const DARK_BLUE: &str = "#1d4ed8";
const AMBER: &str = "#b45309";
const AXIS_TEXT: &str = "#4b5563";
const GRID: &str = "#e5e7eb";

/// A chart and the same numbers as a table for screen readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// `<svg role="img" aria-label="…">…</svg>`.
    pub svg: String,
    /// `<table class="visually-hidden chart-table"><caption>…`.
    pub table: String,
}

impl Chart {
    /// Both, in a `<figure class="chart">`.
    pub fn html(&self) -> String {
        format!(
            "<figure class=\"chart\">{}{}</figure>",
            self.svg, self.table
        )
    }
}

/// How dates are written on axes, in tooltips and in the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateStyle {
    /// `Jun 5`; `Jun` over `2024`; `Jun 5, 2024`.
    #[default]
    English,
    /// `06-05`; `06` over `2024`; `2024-06-05`.
    Iso,
    /// `6月5日`; `6月` over `2024年`; `2024年6月5日`.
    Chinese,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl DateStyle {
    /// A day on an axis.
    fn day(self, t: OffsetDateTime) -> String {
        let (m, d) = (u8::from(t.month()), t.day());
        match self {
            Self::English => format!("{} {d}", MONTHS[usize::from(m - 1) % 12]),
            Self::Iso => format!("{m:02}-{d:02}"),
            Self::Chinese => format!("{m}月{d}日"),
        }
    }

    /// A month on an axis (long ranges); its year goes on a second line.
    fn month(self, t: OffsetDateTime) -> String {
        let m = u8::from(t.month());
        match self {
            Self::English => MONTHS[usize::from(m - 1) % 12].to_owned(),
            Self::Iso => format!("{m:02}"),
            Self::Chinese => format!("{m}月"),
        }
    }

    fn year(self, t: OffsetDateTime) -> String {
        match self {
            Self::English | Self::Iso => t.year().to_string(),
            Self::Chinese => format!("{}年", t.year()),
        }
    }

    /// A bucket in a tooltip or table: the full date, and the hour for
    /// hourly buckets.
    fn full(self, t: OffsetDateTime, interval: Interval) -> String {
        let (y, m, d) = (t.year(), u8::from(t.month()), t.day());
        let mut s = match self {
            Self::English => format!("{} {d}, {y}", MONTHS[usize::from(m - 1) % 12]),
            Self::Iso => format!("{y}-{m:02}-{d:02}"),
            Self::Chinese => format!("{y}年{m}月{d}日"),
        };
        if interval == Interval::Hour {
            w!(s, " {:02}:{:02}", t.hour(), t.minute());
        }
        s
    }
}

/// The words of the charts, in the page's language. Each chart's summary
/// (its `aria-label`, `<title>` and table caption) is a separate argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartLabels<'a> {
    pub dates: DateStyle,
    /// Thousands separator, e.g. `,` for both English and Chinese.
    pub thousands: char,
    /// After a count of one, and of any other number: "click" / "clicks".
    pub click_one: &'a str,
    pub click_other: &'a str,
    /// Table column headers.
    pub time: &'a str,
    pub count: &'a str,
    pub name: &'a str,
    pub share: &'a str,
    /// Shown for an empty name or the core's `unknown`.
    pub unknown: &'a str,
    /// Shown for the referrer `direct` (no referrer).
    pub direct: &'a str,
    pub humans: &'a str,
    pub bots: &'a str,
    /// Shown instead of a chart with nothing in it.
    pub no_data: &'a str,
}

impl ChartLabels<'static> {
    pub const ENGLISH: Self = Self {
        dates: DateStyle::English,
        thousands: ',',
        click_one: "click",
        click_other: "clicks",
        time: "Time",
        count: "Clicks",
        name: "Name",
        share: "Share",
        unknown: "(unknown)",
        direct: "(direct)",
        humans: "Humans",
        bots: "Bots",
        no_data: "No clicks in this range",
    };

    pub const CHINESE: Self = Self {
        dates: DateStyle::Chinese,
        thousands: ',',
        click_one: "次点击",
        click_other: "次点击",
        time: "时间",
        count: "点击",
        name: "名称",
        share: "占比",
        unknown: "（未知）",
        direct: "（直接访问）",
        humans: "真人",
        bots: "机器人",
        no_data: "此时间段内没有点击",
    };
}

impl ChartLabels<'_> {
    /// "1,234 clicks".
    fn clicks(&self, n: u64) -> String {
        let unit = if n == 1 {
            self.click_one
        } else {
            self.click_other
        };
        format!("{} {unit}", group(u128::from(n), self.thousands))
    }
}

/// Clicks over time: columns for up to two months of buckets, a line over
/// an area beyond. Every bucket has a `<title>` tooltip with its time and
/// exact count. `title` summarises the chart (e.g. "Clicks per day, last
/// 30 days"); it becomes the `aria-label`, the `<title>` and the caption.
pub fn time_series(
    series: &[Bucket],
    interval: Interval,
    title: &str,
    labels: &ChartLabels<'_>,
) -> Chart {
    let title = esc(title);
    let height = TOP + PLOT_H + BOTTOM;
    let mut svg = open_svg("chart-series", &title, height.into());

    if series.is_empty() {
        w!(
            svg,
            "<line class=\"chart-baseline\" x1=\"0\" x2=\"100%\" y1=\"{0}\" y2=\"{0}\" stroke=\"#6b7280\"/>",
            TOP + PLOT_H
        );
        empty_text(&mut svg, labels, (TOP + PLOT_H / 2).into());
        svg.push_str("</svg>");
        let table = open_table(&title, &[labels.time, labels.count])
            + &empty_row(labels, 2)
            + "</tbody></table>";
        return Chart { svg, table };
    }

    let max = series.iter().map(|b| b.count).max().unwrap_or(0);
    let ticks = nice_ticks(max, Y_INTERVALS);
    let top = ticks.last().copied().unwrap_or(1).max(1);
    let base = TOP + PLOT_H;
    // Where a count is, down from the top of the plot, in px.
    let y_of = |count: u64| -> f64 { f64::from(PLOT_H) * (1.0 - count as f64 / top as f64) };

    let n = series.len();
    let columns = n <= MAX_COLUMNS;
    let slots = if columns { n.max(MIN_SLOTS) } else { n };
    // Columns of a short series are centred among the slots.
    let offset = (slots - n) as f64 / 2.0;
    let centre_pct = |i: usize| (offset + i as f64 + 0.5) / slots as f64 * 100.0;

    // Grid lines above zero; zero gets the darker baseline, drawn last.
    w!(
        svg,
        "<g class=\"chart-grid\" stroke=\"{GRID}\" shape-rendering=\"crispEdges\">"
    );
    for &t in ticks.iter().skip(1) {
        let y = f64::from(TOP) + f64::from(PLOT_H) * (1.0 - t as f64 / top as f64);
        w!(
            svg,
            "<line x1=\"0\" x2=\"100%\" y1=\"{0}\" y2=\"{0}\"/>",
            num(y)
        );
    }
    let x_labels = x_labels(series, interval, labels.dates);
    for l in &x_labels {
        w!(
            svg,
            "<line x1=\"{0}%\" x2=\"{0}%\" y1=\"{base}\" y2=\"{1}\" stroke=\"#6b7280\"/>",
            num(centre_pct(l.index)),
            base + 4
        );
    }
    svg.push_str("</g>");

    w!(
        svg,
        "<svg class=\"chart-plot\" x=\"0\" y=\"{TOP}\" width=\"100%\" height=\"{PLOT_H}\" \
         viewBox=\"0 0 {slots} {PLOT_H}\" preserveAspectRatio=\"none\">"
    );
    if columns {
        // Gaps shrink with the slot count so columns stay wider than gaps.
        let gap = if slots > 31 { 0.1 } else { 0.2 };
        w!(svg, "<g class=\"chart-bar\" fill=\"{BLUE}\">");
        for (i, b) in series.iter().enumerate() {
            if b.count == 0 {
                continue;
            }
            // A count of one among millions still shows as a pixel.
            let y = y_of(b.count).min(f64::from(PLOT_H) - 1.0);
            w!(
                svg,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
                num(offset + i as f64 + gap),
                num(y),
                num(1.0 - 2.0 * gap),
                num(f64::from(PLOT_H) - y)
            );
        }
        svg.push_str("</g>");
    } else {
        let mut line = String::new();
        for (i, b) in series.iter().enumerate() {
            let cmd = if i == 0 { 'M' } else { 'L' };
            w!(line, "{cmd}{} {}", num(i as f64 + 0.5), num(y_of(b.count)));
        }
        w!(
            svg,
            "<path class=\"chart-area\" fill=\"{BLUE}\" fill-opacity=\".15\" d=\"M0.5 {PLOT_H}{}L{} {PLOT_H}Z\"/>",
            line.replacen('M', "L", 1),
            num(n as f64 - 0.5)
        );
        w!(
            svg,
            "<path class=\"chart-line\" fill=\"none\" stroke=\"{DARK_BLUE}\" stroke-width=\"2\" \
             stroke-linejoin=\"round\" vector-effect=\"non-scaling-stroke\" d=\"{line}\"/>"
        );
    }
    // Full-height hover targets, so a tooltip does not need a steady hand
    // on a one-pixel column.
    svg.push_str("<g class=\"chart-hit\" fill=\"#000\" fill-opacity=\"0\">");
    let times: Vec<String> = series
        .iter()
        .map(|b| esc(&labels.dates.full(b.t, interval)))
        .collect();
    for (i, (b, time)) in series.iter().zip(&times).enumerate() {
        w!(
            svg,
            "<rect x=\"{}\" y=\"0\" width=\"1\" height=\"{PLOT_H}\"><title>{time} · {}</title></rect>",
            num(offset + i as f64),
            esc(&labels.clicks(b.count))
        );
    }
    svg.push_str("</g></svg>");

    w!(
        svg,
        "<line class=\"chart-baseline\" x1=\"0\" x2=\"100%\" y1=\"{base}\" y2=\"{base}\" \
         stroke=\"#6b7280\" shape-rendering=\"crispEdges\"/>"
    );

    // Tick labels above their lines, haloed over the marks; they let the
    // pointer through to the tooltips below.
    w!(
        svg,
        "<g class=\"chart-axis\" fill=\"{AXIS_TEXT}\" font-size=\"11\" stroke=\"#fff\" \
         stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\" pointer-events=\"none\">"
    );
    // No "0": the baseline says it, and there the label would always sit
    // on the first column.
    for &t in ticks.iter().skip(1) {
        let y = f64::from(TOP) + f64::from(PLOT_H) * (1.0 - t as f64 / top as f64) - 4.0;
        w!(
            svg,
            "<text x=\"2\" y=\"{}\">{}</text>",
            num(y),
            esc(&group(t, labels.thousands))
        );
    }
    svg.push_str("</g>");

    w!(svg, "<g class=\"chart-axis\" fill=\"{AXIS_TEXT}\">");
    for l in &x_labels {
        let pct = centre_pct(l.index);
        // Labels at the edges are anchored inwards so they are not cut off.
        let anchor = if pct < 6.0 {
            "start"
        } else if pct > 94.0 {
            "end"
        } else {
            "middle"
        };
        let x = num(pct);
        w!(
            svg,
            "<text x=\"{x}%\" y=\"{}\" text-anchor=\"{anchor}\">{}",
            base + 16,
            esc(&l.first)
        );
        if let Some(second) = &l.second {
            w!(svg, "<tspan x=\"{x}%\" dy=\"14\">{}</tspan>", esc(second));
        }
        svg.push_str("</text>");
    }
    svg.push_str("</g></svg>");

    let mut table = open_table(&title, &[labels.time, labels.count]);
    for (b, time) in series.iter().zip(&times) {
        w!(
            table,
            "<tr><th scope=\"row\">{time}</th><td>{}</td></tr>",
            esc(&group(u128::from(b.count), labels.thousands))
        );
    }
    table.push_str("</tbody></table>");
    Chart { svg, table }
}

/// A breakdown (referrers, countries, ...) as horizontal bars, at most
/// `max_rows` of them, in the order given (most first). Bars are scaled to
/// the largest shown count so small differences stay visible; the percent
/// is of `total`. Names are cut to fit a phone, and whole in the tooltip
/// and table.
pub fn breakdown(
    items: &[Named],
    total: u64,
    max_rows: usize,
    title: &str,
    labels: &ChartLabels<'_>,
) -> Chart {
    let title = esc(title);
    let items = &items[..items.len().min(max_rows)];
    let headers = [labels.name, labels.count, labels.share];

    if items.is_empty() {
        let mut svg = open_svg("chart-breakdown", &title, 40);
        empty_text(&mut svg, labels, 24);
        svg.push_str("</svg>");
        let table = open_table(&title, &headers) + &empty_row(labels, 3) + "</tbody></table>";
        return Chart { svg, table };
    }

    let height = ROW_H * items.len() as u64 + 4;
    let mut svg = open_svg("chart-breakdown", &title, height);
    let mut table = open_table(&title, &headers);
    let max = items.iter().map(|i| i.count).max().unwrap_or(0).max(1);

    for (row, item) in items.iter().enumerate() {
        let y = ROW_H * row as u64;
        let (name, unknown) = display_name(&item.name, labels);
        let count = group(u128::from(item.count), labels.thousands);
        let pct = esc(&percent(item.count.into(), total.into()));
        let width = if item.count == 0 {
            0.0
        } else {
            (item.count as f64 / max as f64 * 100.0).max(0.5)
        };
        let (name_class, name_attrs) = if unknown {
            (
                "chart-name chart-unknown",
                "fill=\"#4b5563\" font-style=\"italic\"",
            )
        } else {
            ("chart-name", "fill=\"#111827\"")
        };
        w!(
            svg,
            "<g><title>{} · {} ({pct})</title>\
             <text class=\"{name_class}\" {name_attrs} x=\"0\" y=\"{}\">{}</text>\
             <text class=\"chart-value\" fill=\"#374151\" x=\"100%\" y=\"{}\" text-anchor=\"end\">{} ({pct})</text>\
             <rect class=\"chart-bar\" fill=\"{BLUE}\" x=\"0\" y=\"{}\" width=\"{}%\" height=\"8\" rx=\"2\"/></g>",
            esc(name),
            esc(&labels.clicks(item.count)),
            y + 14,
            esc(&truncate(name, NAME_WIDTH)),
            y + 14,
            esc(&count),
            y + 20,
            num(width)
        );
        w!(
            table,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{pct}</td></tr>",
            esc(name),
            esc(&count)
        );
    }
    svg.push_str("</svg>");
    table.push_str("</tbody></table>");
    Chart { svg, table }
}

/// Humans against bots as one bar split in two, with a legend below.
/// Percents are of the two together (clicks not classified are left out).
pub fn humans_vs_bots(humans: u64, bots: u64, title: &str, labels: &ChartLabels<'_>) -> Chart {
    let title = esc(title);
    let sum = u128::from(humans) + u128::from(bots);
    let mut svg = open_svg("chart-split", &title, 70);
    let mut table = open_table(&title, &[labels.name, labels.count, labels.share]);

    if sum == 0 {
        w!(
            svg,
            "<rect class=\"chart-track\" fill=\"{GRID}\" x=\"0\" y=\"0\" width=\"100%\" height=\"20\"/>"
        );
        empty_text(&mut svg, labels, 44);
        svg.push_str("</svg>");
        table.push_str(&empty_row(labels, 3));
        table.push_str("</tbody></table>");
        return Chart { svg, table };
    }

    let h_pct = (humans as f64 / sum as f64 * 100.0 * 10.0).round() / 10.0;
    let parts = [
        ("chart-humans", BLUE, labels.humans, humans, 0.0, h_pct),
        ("chart-bots", AMBER, labels.bots, bots, h_pct, 100.0 - h_pct),
    ];
    for (class, colour, name, count, x, width) in parts {
        let pct = esc(&percent(count.into(), sum));
        let text = format!("{} · {} ({pct})", esc(name), esc(&labels.clicks(count)));
        if count > 0 {
            w!(
                svg,
                "<rect class=\"{class}\" fill=\"{colour}\" x=\"{}%\" y=\"0\" width=\"{}%\" height=\"20\"><title>{text}</title></rect>",
                num(x),
                num(width)
            );
        }
        w!(
            table,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{pct}</td></tr>",
            esc(name),
            esc(&group(u128::from(count), labels.thousands))
        );
    }
    for (row, (class, colour, name, count, _, _)) in parts.into_iter().enumerate() {
        let y = 34 + 20 * row as u64;
        w!(
            svg,
            "<rect class=\"{class}\" fill=\"{colour}\" x=\"0\" y=\"{}\" width=\"10\" height=\"10\" rx=\"2\"/>\
             <text class=\"chart-value\" fill=\"#374151\" x=\"16\" y=\"{}\">{} {} ({})</text>",
            y,
            y + 10,
            esc(name),
            esc(&group(u128::from(count), labels.thousands)),
            esc(&percent(count.into(), sum))
        );
    }
    svg.push_str("</svg>");
    table.push_str("</tbody></table>");
    Chart { svg, table }
}

/// Escapes for text and quoted attributes, first replacing what XML cannot
/// carry (C0 controls but tab and newline, U+FFFE/U+FFFF) and what would
/// reorder the surrounding text (bidi embeddings, overrides, isolates).
fn esc(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| match c {
            '\t' | '\n' => ' ',
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => '\u{FFFD}',
            '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect();
    escape(&clean)
}

fn open_svg(kind: &str, title: &str, height: u64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart {kind}\" role=\"img\" \
         aria-label=\"{title}\" width=\"100%\" height=\"{height}\" \
         font-family=\"system-ui,sans-serif\" font-size=\"12\"><title>{title}</title>"
    )
}

fn empty_text(svg: &mut String, labels: &ChartLabels<'_>, y: u64) {
    w!(
        svg,
        "<text class=\"chart-empty\" fill=\"{AXIS_TEXT}\" x=\"50%\" y=\"{y}\" text-anchor=\"middle\">{}</text>",
        esc(labels.no_data)
    );
}

/// `title` is escaped already; headers are not.
fn open_table(title: &str, headers: &[&str]) -> String {
    let mut t = format!(
        "<table class=\"visually-hidden chart-table\"><caption>{title}</caption><thead><tr>"
    );
    for h in headers {
        w!(t, "<th scope=\"col\">{}</th>", esc(h));
    }
    t.push_str("</tr></thead><tbody>");
    t
}

fn empty_row(labels: &ChartLabels<'_>, columns: usize) -> String {
    format!(
        "<tr><td colspan=\"{columns}\">{}</td></tr>",
        esc(labels.no_data)
    )
}

/// The name to show, and whether it stands for a missing one.
fn display_name<'a>(name: &'a str, labels: &ChartLabels<'a>) -> (&'a str, bool) {
    match name.trim() {
        "" | "unknown" | "(unknown)" => (labels.unknown, true),
        "direct" => (labels.direct, true),
        _ => (name, false),
    }
}

/// Cuts `text` to about `width` narrow characters, with an ellipsis.
fn truncate(text: &str, width: usize) -> String {
    // A rough East Asian width: wide from the CJK radicals on, which also
    // takes in Hangul and full-width forms.
    let w = |c: char| if c >= '\u{2E80}' { 2 } else { 1 };
    if text.chars().map(w).sum::<usize>() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        if used + w(c) > width.saturating_sub(1) {
            break;
        }
        used += w(c);
        out.push(c);
    }
    out.push('…');
    out
}

/// `12345` → `12,345`.
pub(super) fn group(n: u128, sep: char) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(d);
    }
    out
}

/// `part` of `total` to one decimal, in integers so that huge counts stay
/// exact; a share too small to show as 0.1% says so, and none is `0%`.
fn percent(part: u128, total: u128) -> String {
    if total == 0 {
        return "0%".to_owned();
    }
    let tenths = (part * 2000 + total) / (2 * total);
    if tenths == 0 && part > 0 {
        return "<0.1%".to_owned();
    }
    if part == 0 {
        return "0%".to_owned();
    }
    // Always one decimal, so that a column of percents lines up.
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// A coordinate to at most one decimal, without a trailing `.0`.
fn num(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = format!("{:.1}", (v * 10.0).round() / 10.0);
    let s = s.strip_suffix(".0").unwrap_or(&s);
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// Round tick values from 0 up to at least `max`, with a step of 1, 2 or 5
/// times a power of ten and at most `intervals` steps. Never empty; an
/// all-zero series gets `[0, 1]`. In `u128`: the top tick may exceed
/// `u64::MAX`.
fn nice_ticks(max: u64, intervals: u64) -> Vec<u128> {
    let max = u128::from(max.max(1));
    let intervals = u128::from(intervals.max(1));
    let raw = max.div_ceil(intervals);
    let mut power = 1u128;
    while power * 10 <= raw {
        power *= 10;
    }
    let step = [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= raw)
        .unwrap_or(power * 10);
    let steps = max.div_ceil(step);
    (0..=steps).map(|k| k * step).collect()
}

/// One x-axis label: the bucket it stands under, its text, and a second
/// line where the day (under hours) or the year (under months) changes.
#[derive(Debug, PartialEq, Eq)]
struct XLabel {
    index: usize,
    first: String,
    second: Option<String>,
}

/// At most `MAX_X_LABELS` labels at round times: every 1, 2, 3, 6 or 12
/// hours, else every 1, 2, 3, 7 (Mondays), 14 or 28 days at midnight, else
/// on the first of every 1, 2, 3, 6, 12, ... months: the finest that fits.
fn x_labels(series: &[Bucket], interval: Interval, dates: DateStyle) -> Vec<XLabel> {
    let pick = |keep: &dyn Fn(&Bucket) -> bool| -> Option<Vec<usize>> {
        let idx: Vec<usize> = (0..series.len()).filter(|&i| keep(&series[i])).collect();
        (!idx.is_empty() && idx.len() <= MAX_X_LABELS).then_some(idx)
    };
    let midnight = |b: &Bucket| interval == Interval::Day || (b.t.hour() == 0 && b.t.minute() == 0);

    if interval == Interval::Hour {
        for step in [1u8, 2, 3, 6, 12] {
            if let Some(idx) = pick(&|b| b.t.hour().is_multiple_of(step) && b.t.minute() == 0) {
                let mut last_day = None;
                return idx
                    .into_iter()
                    .map(|i| {
                        let t = series[i].t;
                        let new_day = last_day != Some(t.date());
                        last_day = Some(t.date());
                        XLabel {
                            index: i,
                            first: format!("{:02}:{:02}", t.hour(), t.minute()),
                            second: new_day.then(|| dates.day(t)),
                        }
                    })
                    .collect();
            }
        }
    }
    for step in [1i32, 2, 3, 7, 14, 28] {
        // Julian day 0 is a Monday, so weekly labels fall on Mondays.
        if let Some(idx) =
            pick(&|b| midnight(b) && b.t.date().to_julian_day().rem_euclid(step) == 0)
        {
            return idx
                .into_iter()
                .map(|i| XLabel {
                    index: i,
                    first: dates.day(series[i].t),
                    second: None,
                })
                .collect();
        }
    }
    for step in [1i32, 2, 3, 6, 12, 24, 60, 120] {
        let month_start = |b: &Bucket| {
            let months = b.t.year() * 12 + i32::from(u8::from(b.t.month())) - 1;
            midnight(b) && b.t.day() == 1 && months.rem_euclid(step) == 0
        };
        if let Some(idx) = pick(&month_start) {
            let mut last_year = None;
            return idx
                .into_iter()
                .map(|i| {
                    let t = series[i].t;
                    let new_year = last_year != Some(t.year());
                    last_year = Some(t.year());
                    XLabel {
                        index: i,
                        first: dates.month(t),
                        second: new_year.then(|| dates.year(t)),
                    }
                })
                .collect();
        }
    }
    // Not reached by series the stats service makes (its buckets start on
    // whole hours and days); one label is better than none.
    series
        .first()
        .map(|b| XLabel {
            index: 0,
            first: dates.full(b.t, interval),
            second: None,
        })
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    const EN: ChartLabels<'static> = ChartLabels::ENGLISH;

    fn series(start: OffsetDateTime, step: Duration, counts: &[u64]) -> Vec<Bucket> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &count)| Bucket {
                t: start + step * i as i32,
                count,
            })
            .collect()
    }

    fn days(counts: &[u64]) -> Vec<Bucket> {
        series(datetime!(2024-06-01 0:00 UTC), Duration::DAY, counts)
    }

    fn hours(counts: &[u64]) -> Vec<Bucket> {
        series(datetime!(2024-06-01 13:00 UTC), Duration::HOUR, counts)
    }

    fn named(name: &str, count: u64) -> Named {
        Named {
            name: name.to_owned(),
            count,
        }
    }

    /// A strict well-formedness check of the subset of XML written here:
    /// elements, double-quoted attributes, text and the five entities plus
    /// numeric references. Returns the root element's name.
    fn well_formed(doc: &str) -> Result<String, String> {
        fn entity(s: &str) -> Result<usize, String> {
            let end = s.find(';').ok_or("& without ;")?;
            let name = &s[1..end];
            let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                || name
                    .strip_prefix('#')
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            if ok {
                Ok(end + 1)
            } else {
                Err(format!("bad entity &{name};"))
            }
        }
        fn text_ok(s: &str, quote: bool) -> Result<(), String> {
            let mut i = 0;
            while i < s.len() {
                let c = s[i..].chars().next().ok_or("eof")?;
                match c {
                    '<' => return Err(format!("raw < in {s:?}")),
                    '"' if quote => return Err("raw quote in attribute".into()),
                    '&' => i += entity(&s[i..])?,
                    c if c.is_control() && c != '\n' && c != '\t' => {
                        return Err(format!("control {c:?}"))
                    }
                    c => i += c.len_utf8(),
                }
            }
            Ok(())
        }
        let name_end = |s: &str| {
            s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':'))
                .unwrap_or(s.len())
        };
        let mut stack: Vec<&str> = Vec::new();
        let mut root = None;
        let mut rest = doc;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("</") {
                let n = name_end(after);
                let open = stack.pop().ok_or("close without open")?;
                if &after[..n] != open || !after[n..].starts_with('>') {
                    return Err(format!("</{}> closes <{open}>", &after[..n]));
                }
                rest = &after[n + 1..];
            } else if let Some(after) = rest.strip_prefix('<') {
                let n = name_end(after);
                if n == 0 {
                    return Err("empty tag name".into());
                }
                let tag = &after[..n];
                if stack.is_empty() {
                    if root.is_some() {
                        return Err("two roots".into());
                    }
                    root = Some(tag.to_owned());
                }
                let mut a = &after[n..];
                let mut seen = Vec::new();
                loop {
                    if let Some(r) = a.strip_prefix("/>") {
                        a = r;
                        break;
                    }
                    if let Some(r) = a.strip_prefix('>') {
                        stack.push(tag);
                        a = r;
                        break;
                    }
                    a = a
                        .strip_prefix(' ')
                        .ok_or(format!("no space before attribute in <{tag}"))?;
                    let k = name_end(a);
                    let key = &a[..k];
                    if k == 0 || seen.contains(&key) {
                        return Err(format!("bad or repeated attribute {key:?} in <{tag}"));
                    }
                    seen.push(key);
                    a = a[k..].strip_prefix("=\"").ok_or("attribute without =\"")?;
                    let end = a.find('"').ok_or("unterminated attribute")?;
                    text_ok(&a[..end], true)?;
                    a = &a[end + 1..];
                }
                rest = a;
            } else {
                if stack.is_empty() {
                    return Err("text outside the root".into());
                }
                let end = rest.find('<').unwrap_or(rest.len());
                text_ok(&rest[..end], false)?;
                rest = &rest[end..];
            }
            if stack.is_empty() && root.is_some() && !rest.is_empty() {
                return Err(format!("after the root: {rest:.40}"));
            }
        }
        if !stack.is_empty() {
            return Err(format!("unclosed {stack:?}"));
        }
        root.ok_or_else(|| "no root".to_owned())
    }

    fn assert_chart(chart: &Chart) {
        assert_eq!(
            well_formed(&chart.svg).as_deref(),
            Ok("svg"),
            "{}",
            chart.svg
        );
        assert_eq!(
            well_formed(&chart.table).as_deref(),
            Ok("table"),
            "{}",
            chart.table
        );
        assert_eq!(well_formed(&chart.html()).as_deref(), Ok("figure"));
        for forbidden in [" style=", "<style", "<script", "NaN", "inf"] {
            assert!(
                !chart.svg.contains(forbidden),
                "{forbidden} in {}",
                chart.svg
            );
        }
        assert!(chart.svg.contains("role=\"img\""));
        assert!(chart
            .table
            .starts_with("<table class=\"visually-hidden chart-table\">"));
        assert!(!chart.svg.contains("  ") && !chart.svg.contains('\n'));
        assert_short_numbers(&chart.svg);
    }

    /// No number anywhere has more than one decimal.
    fn assert_short_numbers(s: &str) {
        let b = s.as_bytes();
        for (i, _) in s.match_indices('.') {
            let before = i > 0 && b[i - 1].is_ascii_digit();
            let decimals = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            assert!(
                !before || decimals <= 1,
                "long number near {:?}",
                &s[i.saturating_sub(10)..(i + 10).min(s.len())]
            );
        }
    }

    #[test]
    fn ticks_are_nice() {
        assert_eq!(nice_ticks(0, 4), [0, 1]);
        assert_eq!(nice_ticks(1, 4), [0, 1]);
        assert_eq!(nice_ticks(3, 4), [0, 1, 2, 3]);
        assert_eq!(nice_ticks(7, 4), [0, 2, 4, 6, 8]);
        assert_eq!(nice_ticks(10, 4), [0, 5, 10]);
        assert_eq!(nice_ticks(11, 4), [0, 5, 10, 15]);
        assert_eq!(nice_ticks(100, 4), [0, 50, 100]);
        assert_eq!(nice_ticks(12_345, 4), [0, 5000, 10_000, 15_000]);
        assert_eq!(nice_ticks(20_000, 4), [0, 5000, 10_000, 15_000, 20_000]);
        let huge = nice_ticks(u64::MAX, 4);
        assert!(huge.last().copied().unwrap_or(0) >= u128::from(u64::MAX));
        for max in (0..2000).chain([u64::MAX / 3, u64::MAX - 1]) {
            let t = nice_ticks(max, 4);
            assert!(t.len() >= 2 && t.len() <= 5, "{max}: {t:?}");
            assert_eq!(t[0], 0);
            assert!(*t.last().unwrap() >= u128::from(max));
            let step = t[1];
            let mut m = step;
            while m.is_multiple_of(10) {
                m /= 10;
            }
            assert!(matches!(m, 1 | 2 | 5), "{max}: step {step}");
        }
    }

    #[test]
    fn numbers_are_grouped_and_short() {
        assert_eq!(group(0, ','), "0");
        assert_eq!(group(999, ','), "999");
        assert_eq!(group(1000, ','), "1,000");
        assert_eq!(group(12_345, ','), "12,345");
        assert_eq!(
            group(u128::from(u64::MAX), ','),
            "18,446,744,073,709,551,615"
        );
        assert_eq!(num(1.0), "1");
        assert_eq!(num(0.15), "0.2");
        assert_eq!(num(1.0 / 3.0), "0.3");
        assert_eq!(num(-0.01), "0");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(1, 2), "50.0%");
        assert_eq!(percent(0, 0), "0%");
        assert_eq!(percent(1, 1_000_000), "<0.1%");
        assert_eq!(percent(u64::MAX.into(), u64::MAX.into()), "100.0%");
        assert_eq!(percent(0, 5), "0%");
    }

    #[test]
    fn an_empty_series_says_so() {
        let c = time_series(&[], Interval::Day, "Clicks", &EN);
        assert_chart(&c);
        assert!(c.svg.contains("No clicks in this range"));
        assert!(c.table.contains("No clicks in this range"));
    }

    #[test]
    fn one_bucket_is_one_centred_column() {
        let c = time_series(&days(&[5]), Interval::Day, "Clicks", &EN);
        assert_chart(&c);
        assert_eq!(
            c.svg.matches("<rect").count(),
            2,
            "a column and a hover target"
        );
        assert!(c.svg.contains("viewBox=\"0 0 7 160\""));
        assert!(c.svg.contains("<title>Jun 1, 2024 · 5 clicks</title>"));
        assert!(c.svg.contains(">Jun 1</text>"));
        assert!(c
            .table
            .contains("<tr><th scope=\"row\">Jun 1, 2024</th><td>5</td></tr>"));
    }

    #[test]
    fn all_zeros_draw_no_columns_but_keep_tooltips() {
        let c = time_series(&days(&[0; 10]), Interval::Day, "Clicks", &EN);
        assert_chart(&c);
        assert!(!c.svg.contains("class=\"chart-bar\" fill=\"#2563eb\"><rect"));
        assert_eq!(c.svg.matches("0 clicks</title>").count(), 10);
        assert!(c.svg.contains(">1</text>"), "y axis up to 1");
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let c = time_series(
            &days(&[u64::MAX, 1, 0, u64::MAX / 2]),
            Interval::Day,
            "x",
            &EN,
        );
        assert_chart(&c);
        assert!(c.svg.contains("18,446,744,073,709,551,615 clicks"));
        // The one still shows as a pixel-high column.
        assert!(c.svg.contains("height=\"1\""));
        let long = time_series(&days(&[u64::MAX; 200]), Interval::Day, "x", &EN);
        assert_chart(&long);
        let b = breakdown(
            &[named("a", u64::MAX), named("b", 1)],
            u64::MAX,
            10,
            "x",
            &EN,
        );
        assert_chart(&b);
        assert!(b.svg.contains("(100.0%)") && b.svg.contains("(&lt;0.1%)"));
        assert_chart(&humans_vs_bots(u64::MAX, u64::MAX, "x", &EN));
    }

    #[test]
    fn long_series_are_a_line_with_a_tooltip_per_bucket() {
        let counts: Vec<u64> = (0..24 * 92).map(|i| (i * 37 % 101) as u64).collect();
        let c = time_series(&hours(&counts), Interval::Hour, "Clicks per hour", &EN);
        assert_chart(&c);
        assert!(c.svg.contains("class=\"chart-line\""));
        assert_eq!(c.svg.matches("<title>").count(), 1 + counts.len());
        assert_eq!(c.table.matches("<tr>").count(), 1 + counts.len());
        assert!(c
            .svg
            .contains("<title>Jun 1, 2024 13:00 · 0 clicks</title>"));
    }

    #[test]
    fn x_labels_are_thinned_to_round_times() {
        for n in 1..400 {
            for (s, interval) in [
                (days(&vec![1; n]), Interval::Day),
                (hours(&vec![1; n]), Interval::Hour),
            ] {
                for style in [DateStyle::English, DateStyle::Iso, DateStyle::Chinese] {
                    let l = x_labels(&s, interval, style);
                    assert!(
                        !l.is_empty() && l.len() <= MAX_X_LABELS,
                        "{n} {interval:?}: {l:?}"
                    );
                    assert!(l.windows(2).all(|w| w[0].index < w[1].index));
                }
            }
        }
        let l = x_labels(&hours(&[1; 30]), Interval::Hour, DateStyle::English);
        let text: Vec<_> = l
            .iter()
            .map(|l| (l.first.as_str(), l.second.as_deref()))
            .collect();
        assert_eq!(
            text,
            [
                ("18:00", Some("Jun 1")),
                ("00:00", Some("Jun 2")),
                ("06:00", None),
                ("12:00", None),
                ("18:00", None)
            ]
        );
        let l = x_labels(&days(&[1; 30]), Interval::Day, DateStyle::Iso);
        assert!(l.iter().all(|l| l.first.len() == 5), "{l:?}");
        // Weekly labels fall on Mondays: 2024-06-03 was one.
        assert_eq!(l[0].first, "06-03");
        let l = x_labels(&days(&[1; 365]), Interval::Day, DateStyle::Chinese);
        let text: Vec<_> = l
            .iter()
            .map(|l| (l.first.as_str(), l.second.as_deref()))
            .collect();
        assert_eq!(
            text,
            [
                ("7月", Some("2024年")),
                ("9月", None),
                ("11月", None),
                ("1月", Some("2025年")),
                ("3月", None),
                ("5月", None)
            ]
        );
        let l = x_labels(&days(&[1; 3660]), Interval::Day, DateStyle::English);
        assert!(l.len() >= 3 && l.len() <= MAX_X_LABELS, "{l:?}");
    }

    #[test]
    fn chinese_labels() {
        let c = time_series(
            &days(&[1, 2]),
            Interval::Day,
            "每日点击",
            &ChartLabels::CHINESE,
        );
        assert_chart(&c);
        assert!(c.svg.contains("<title>2024年6月2日 · 2 次点击</title>"));
        assert!(c.svg.contains(">6月1日</text>"));
    }

    #[test]
    fn output_is_deterministic() {
        let s = days(&[3, 1, 4, 1, 5, 9, 2, 6]);
        assert_eq!(
            time_series(&s, Interval::Day, "t", &EN),
            time_series(&s, Interval::Day, "t", &EN)
        );
    }

    #[test]
    fn hostile_names_are_escaped() {
        let evil = "<script>alert(\"x\")</script>&amp;' onload='x\u{1}\u{202E}";
        let items = [
            named(evil, 3),
            named("", 2),
            named("unknown", 1),
            named("direct", 1),
        ];
        let c = breakdown(&items, 7, 10, evil, &EN);
        assert_chart(&c);
        for out in [&c.svg, &c.table] {
            assert!(!out.contains("<script"), "{out}");
            assert!(!out.contains("' onload"));
            assert!(!out.contains('\u{1}') && !out.contains('\u{202E}'));
            assert!(out.contains(
                "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;&#39; onload"
            ));
        }
        assert_eq!(c.table.matches("(unknown)").count(), 2);
        assert!(c.svg.contains("chart-unknown"));
        assert!(c.table.contains("(direct)"));

        let labels = ChartLabels {
            no_data: "<b>",
            humans: "\"h\"",
            thousands: '&',
            ..EN
        };
        for chart in [
            time_series(&[], Interval::Day, "<", &labels),
            time_series(&days(&[1234]), Interval::Day, "<", &labels),
            humans_vs_bots(1, 1, "<", &labels),
            humans_vs_bots(0, 0, "<", &labels),
        ] {
            assert_chart(&chart);
            assert!(!chart.svg.contains("<b>"));
        }
    }

    #[test]
    fn breakdown_rows_are_limited_and_names_cut() {
        let items: Vec<Named> = (0..20)
            .map(|i| named(&format!("site{i}.example"), 20 - i))
            .collect();
        let c = breakdown(&items, 500, 5, "Referrers", &EN);
        assert_chart(&c);
        assert_eq!(c.table.matches("<tr><th scope=\"row\">").count(), 5);
        assert_eq!(c.svg.matches("class=\"chart-bar\"").count(), 5);
        assert!(c.svg.contains(">20 (4.0%)</text>"));

        let long = "a".repeat(100) + ".example";
        let c = breakdown(&[named(&long, 1)], 1, 10, "x", &EN);
        assert!(c
            .svg
            .contains(&format!(">{}…</text>", "a".repeat(NAME_WIDTH - 1))));
        assert!(c.table.contains(&long));
        assert_eq!(
            truncate("中文中文中文中文中文中文中文中文中文", 10),
            "中文中文…"
        );

        let c = breakdown(&[], 0, 10, "x", &EN);
        assert_chart(&c);
        assert!(c.svg.contains("No clicks"));
        assert_chart(&breakdown(&[named("x", 0)], 0, 10, "x", &EN));
        assert_chart(&breakdown(&items, 500, 0, "x", &EN));
    }

    #[test]
    fn humans_and_bots_add_up() {
        let c = humans_vs_bots(801, 199, "Humans and bots", &EN);
        assert_chart(&c);
        assert!(c.svg.contains("width=\"80.1%\"") && c.svg.contains("width=\"19.9%\""));
        assert!(c.svg.contains("Humans 801 (80.1%)"));
        assert!(c.table.contains("<td>19.9%</td>"));
        let c = humans_vs_bots(5, 0, "x", &EN);
        assert_chart(&c);
        assert_eq!(c.svg.matches("chart-bots").count(), 1, "legend only");
        assert_chart(&humans_vs_bots(0, 0, "x", &EN));
    }

    /// Writes one of each chart to `$TMPDIR/kurz-charts.html`, to look at
    /// in a browser (`cargo test -p kurz-server --lib render_examples -- --ignored`).
    /// The page has only the `.visually-hidden` rule: the charts must look
    /// right on their presentation attributes alone.
    /// Every example is well-formed; the page is left in the temporary
    /// folder (`kurz-charts.html`) to be looked at in a browser.
    #[test]
    fn render_examples() {
        let wave = |n: usize, scale: u64| -> Vec<u64> {
            (0..n)
                .map(|i| {
                    let x = i as f64;
                    let v = (x / 3.0).sin() * 0.4
                        + (x / 11.0).cos() * 0.3
                        + 0.8
                        + ((i * 7919) % 13) as f64 / 30.0;
                    (v.max(0.0) * scale as f64) as u64
                })
                .collect()
        };
        let zh = ChartLabels::CHINESE;
        let mut d30 = wave(30, 1500);
        d30[12] = 0;
        d30[20] = 9_876;
        let refs = [
            named("news.ycombinator.com", 5_210),
            named("direct", 3_120),
            named("www.google.com", 2_004),
            named(
                "a-really-long-referrer-host-name.subdomain.example.org",
                912,
            ),
            named("<script>alert(1)</script>", 77),
            named("unknown", 40),
            named("t.co", 3),
        ];
        let countries = [named("中国", 800), named("US", 300), named("DE", 12)];
        let charts = [
            (
                "Day, 30 days",
                time_series(&days(&d30), Interval::Day, "Clicks per day, June 2024", &EN),
            ),
            (
                "Hour, 24 h",
                time_series(
                    &hours(&wave(24, 40)),
                    Interval::Hour,
                    "Clicks per hour",
                    &EN,
                ),
            ),
            (
                "Hour, 7 days (line)",
                time_series(
                    &hours(&wave(24 * 7, 300)),
                    Interval::Hour,
                    "Clicks per hour, 7 days",
                    &EN,
                ),
            ),
            (
                "Day, 1 year, Chinese",
                time_series(&days(&wave(365, 120_000)), Interval::Day, "每日点击", &zh),
            ),
            (
                "One bucket",
                time_series(&days(&[42]), Interval::Day, "One day", &EN),
            ),
            (
                "All zeros, ISO",
                time_series(
                    &days(&[0; 14]),
                    Interval::Day,
                    "Nothing",
                    &ChartLabels {
                        dates: DateStyle::Iso,
                        ..EN
                    },
                ),
            ),
            ("Empty", time_series(&[], Interval::Day, "Nothing", &EN)),
            ("Referrers", breakdown(&refs, 11_500, 10, "Referrers", &EN)),
            (
                "Countries, Chinese",
                breakdown(&countries, 1_112, 10, "国家", &zh),
            ),
            (
                "Humans vs bots",
                humans_vs_bots(12_345, 2_345, "Humans and bots", &EN),
            ),
            (
                "Humans vs bots, Chinese",
                humans_vs_bots(12_345, 2_345, "真人与机器人", &zh),
            ),
            (
                "Humans vs bots, none",
                humans_vs_bots(0, 0, "Humans and bots", &EN),
            ),
        ];
        let mut page = String::from(
            "<!doctype html><meta charset=\"utf-8\"><style>body{margin:12px;font-family:system-ui,sans-serif}\
             h2{font-size:14px;margin:18px 0 4px}figure{margin:0}\
             .visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}</style>",
        );
        for (heading, chart) in &charts {
            if let Err(e) = well_formed(&chart.svg) {
                panic!("{heading}: {e}");
            }
            w!(page, "<h2>{heading}</h2>{}", chart.html());
        }
        std::fs::write(std::env::temp_dir().join("kurz-charts.html"), page).expect("write");
    }

    #[test]
    fn the_checker_rejects_broken_markup() {
        for bad in [
            "<a>",
            "<a><b></a></b>",
            "<a x=\"<\"/>",
            "<a>&foo;</a>",
            "<a/><b/>",
            "<a x=\"1\" x=\"2\"/>",
            "<a>\u{1}</a>",
        ] {
            assert!(well_formed(bad).is_err(), "{bad}");
        }
        assert_eq!(
            well_formed("<a x=\"&amp;\"><b/>t&#39;</a>").as_deref(),
            Ok("a")
        );
    }
}
