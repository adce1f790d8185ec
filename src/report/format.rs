//! Number, money, percentage, delta and date formatting for reports, in the
//! report's locale, and the translation table (`translations.yaml` beside
//! the templates) behind `t()`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use minijinja::Value;

use crate::error::{Error, Result};
use crate::spec::UniqueKeys;

/// Text as Markdown shows it literally: the characters that would start
/// emphasis, code, a link, HTML or strike-through, or end a table cell, are
/// backslash-escaped. An `_` between two letters or digits (`churn_days`)
/// cannot start emphasis and is left as it is.
pub fn escape_markdown(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' | '~' => true,
            '_' => {
                let word = |j: Option<usize>| {
                    j.and_then(|j| chars.get(j))
                        .is_some_and(|c| c.is_alphanumeric())
                };
                !(word(i.checked_sub(1)) && word(Some(i + 1)))
            }
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The languages a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    ZhCn,
}

impl Locale {
    pub fn parse(raw: &str) -> Result<Locale, String> {
        match raw {
            "en" => Ok(Locale::En),
            "zh-CN" => Ok(Locale::ZhCn),
            other => Err(format!("unknown locale `{other}`: use `en` or `zh-CN`")),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }
}

/// Locale → key → text, from `translations.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Translations {
    table: BTreeMap<String, BTreeMap<String, String>>,
}

impl Translations {
    pub const FILE: &'static str = "translations.yaml";

    /// Loads `translations.yaml` from the template folder; none there means
    /// no translations (keys show as themselves).
    pub fn load(template_dir: &Path) -> Result<Self> {
        let path = template_dir.join(Self::FILE);
        if !path.exists() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Run(format!("cannot read `{}`: {e}", path.display())))?;
        let table: UniqueKeys<UniqueKeys<String>> = serde_yaml::from_str(&text).map_err(|e| {
            Error::Run(format!(
                "`{}`: {e}; it maps each locale to `key: text` pairs",
                path.display()
            ))
        })?;
        let table = (table.0.into_iter())
            .map(|(locale, keys)| (locale, keys.0.into_iter().collect()))
            .collect();
        Ok(Translations { table })
    }

    /// The text for `key` in `locale`, else in English, else the key itself
    /// (so an untranslated segment name shows as written).
    /// A key `prefix.name` with no text anywhere shows as `name`.
    pub fn get<'a>(&'a self, locale: Locale, key: &'a str) -> &'a str {
        self.lookup(locale, key)
            .or_else(|| self.lookup(Locale::En, key))
            .unwrap_or_else(|| key.split_once('.').map_or(key, |(_, name)| name))
    }

    /// The text for `key` in `locale` only.
    pub fn lookup(&self, locale: Locale, key: &str) -> Option<&str> {
        self.table
            .get(locale.code())
            .and_then(|t| t.get(key))
            .map(String::as_str)
    }
}

/// How numbers are written in a report.
#[derive(Debug, Clone)]
pub struct Formatter {
    pub locale: Locale,
    /// ISO currency code from the `currency` param, e.g. `USD`, `CNY`.
    pub currency: String,
}

impl Formatter {
    /// `1234567.891` → `1,234,567.89` with `digits` decimals.
    pub fn number(&self, v: f64, digits: usize) -> String {
        if !v.is_finite() {
            return "–".into();
        }
        // Half away from zero, as people round money (format! rounds half to even).
        let scale = 10f64.powi(digits as i32);
        let s = format!("{:.*}", digits, (v.abs() * scale).round() / scale);
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s.as_str(), None),
        };
        let grouped = crate::text::group_thousands(int);
        // No minus sign on a value that rounds to zero.
        let negative = v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0');
        let mut out = String::new();
        if negative {
            out.push('−');
        }
        out.push_str(&grouped);
        if let Some(f) = frac {
            out.push('.');
            out.push_str(f);
        }
        out
    }

    /// `$` for USD (in any case), `CHF ` for a code without a symbol here,
    /// nothing for an empty `currency`.
    pub fn currency_symbol(&self) -> String {
        match self.currency.trim().to_ascii_uppercase().as_str() {
            "" => String::new(),
            "USD" => "$".into(),
            "EUR" => "€".into(),
            "GBP" => "£".into(),
            "CNY" | "RMB" => "¥".into(),
            "JPY" => "¥".into(),
            other => format!("{other} "),
        }
    }

    /// `1234.5` → `$1,235` (or `¥1,235`, `CHF 1,235`).
    pub fn money(&self, v: f64, digits: usize) -> String {
        let n = self.number(v.abs(), digits);
        let sign = if v < 0.0 && n.chars().any(|c| c.is_ascii_digit() && c != '0') {
            "−"
        } else {
            ""
        };
        format!("{sign}{}{n}", self.currency_symbol())
    }

    /// `0.1234` → `12.3%`.
    pub fn percent(&self, share: f64, digits: usize) -> String {
        format!("{}%", self.number(share * 100.0, digits))
    }

    /// The change from `previous` to `current`, with sign and arrow:
    /// `kind` `pct` (relative change), `pp` (difference of two shares, in
    /// percentage points), `num` or `money` (difference).
    pub fn delta(&self, current: f64, previous: f64, kind: &str, digits: usize) -> String {
        let (d, text) = match kind {
            "pp" => {
                let d = (current - previous) * 100.0;
                let pp = match self.locale {
                    Locale::En => " pp",
                    Locale::ZhCn => "个百分点",
                };
                (d, format!("{}{pp}", self.number(d.abs(), digits)))
            }
            "num" => {
                let d = current - previous;
                (d, self.number(d.abs(), digits))
            }
            "money" => {
                let d = current - previous;
                (d, self.money(d.abs(), digits))
            }
            _ => {
                if previous == 0.0 {
                    return "–".into();
                }
                let d = (current - previous) / previous.abs() * 100.0;
                (d, format!("{}%", self.number(d.abs(), digits)))
            }
        };
        let rounded_zero = !text.chars().any(|c| c.is_ascii_digit() && c != '0');
        if rounded_zero {
            format!("■ {text}")
        } else if d > 0.0 {
            format!("▲ +{text}")
        } else {
            format!("▼ −{text}")
        }
    }

    /// `2026-11-22` → `22 Nov 2026` / `2026年11月22日`.
    pub fn date(&self, d: NaiveDate) -> String {
        match self.locale {
            Locale::En => d.format("%-d %b %Y").to_string(),
            Locale::ZhCn => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
        }
    }

    /// `2026-11-22T21:55:57` → `22 Nov 2026 21:55` / `2026年11月22日 21:55`.
    pub fn datetime(&self, t: chrono::NaiveDateTime) -> String {
        format!("{} {}", self.date(t.date()), t.format("%H:%M"))
    }

    /// `2026-11-01` → `Nov 2026` / `2026年11月`.
    pub fn month(&self, d: NaiveDate) -> String {
        match self.locale {
            Locale::En => d.format("%b %Y").to_string(),
            Locale::ZhCn => format!("{}年{}月", d.year(), d.month()),
        }
    }
}

/// A template value as a number: ints, floats and numeric strings.
pub fn as_f64(v: &Value) -> Option<f64> {
    if v.is_none() || v.is_undefined() {
        return None;
    }
    f64::try_from(v.clone())
        .ok()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// A template value as a date and time: `YYYY-MM-DD[T ]HH:MM[:SS…]`.
pub fn as_datetime(v: &Value) -> Option<chrono::NaiveDateTime> {
    let s = v.to_string();
    let s = s.get(..16)?.replace('T', " ");
    chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M").ok()
}

/// A template value as a date: `YYYY-MM-DD…` strings and date params.
pub fn as_date(v: &Value) -> Option<NaiveDate> {
    let s = v.to_string();
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en() -> Formatter {
        Formatter {
            locale: Locale::En,
            currency: "USD".into(),
        }
    }

    #[test]
    fn numbers_group_thousands() {
        let f = en();
        assert_eq!(f.number(1234567.891, 2), "1,234,567.89");
        assert_eq!(f.number(999.5, 0), "1,000");
        assert_eq!(f.number(-1234.0, 0), "−1,234");
        assert_eq!(f.number(-0.004, 2), "0.00");
        assert_eq!(f.number(0.0, 0), "0");
        assert_eq!(f.number(f64::NAN, 0), "–");
    }

    #[test]
    fn money_percent_and_dates() {
        let f = en();
        assert_eq!(f.money(1234.5, 0), "$1,235");
        assert_eq!(f.money(-20.0, 2), "−$20.00");
        assert_eq!(f.percent(0.1234, 1), "12.3%");
        let d = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        assert_eq!(f.date(d), "2 Nov 2026");
        assert_eq!(f.month(d), "Nov 2026");
        let zh = Formatter {
            locale: Locale::ZhCn,
            currency: "CNY".into(),
        };
        assert_eq!(zh.date(d), "2026年11月2日");
        assert_eq!(zh.money(12345.0, 0), "¥12,345");
        let chf = Formatter {
            locale: Locale::En,
            currency: "CHF".into(),
        };
        assert_eq!(chf.money(10.0, 0), "CHF 10");
        // `--param currency=eur` and `--param currency=` (no symbol).
        let with = |code: &str| Formatter {
            locale: Locale::En,
            currency: code.into(),
        };
        assert_eq!(with("eur").money(10.0, 0), "€10");
        assert_eq!(with(" chf ").money(10.0, 0), "CHF 10");
        assert_eq!(with("").money(-10.0, 0), "−10");
    }

    #[test]
    fn markdown_escapes_what_would_be_markup() {
        assert_eq!(escape_markdown("VIP | Gold"), "VIP \\| Gold");
        assert_eq!(escape_markdown("*new* [beta]"), "\\*new\\* \\[beta\\]");
        assert_eq!(escape_markdown("<b>`x`</b>"), "\\<b\\>\\`x\\`\\</b\\>");
        assert_eq!(escape_markdown("churn_days"), "churn_days");
        assert_eq!(escape_markdown("_x_ a_ _b"), "\\_x\\_ a\\_ \\_b");
        assert_eq!(
            escape_markdown("C:\\data ~~old~~"),
            "C:\\\\data \\~\\~old\\~\\~"
        );
        assert_eq!(escape_markdown("−$1,235 ▲ +4.8%"), "−$1,235 ▲ +4.8%");
    }

    #[test]
    fn deltas_have_sign_and_arrow() {
        let f = en();
        assert_eq!(f.delta(110.0, 100.0, "pct", 1), "▲ +10.0%");
        assert_eq!(f.delta(90.0, 100.0, "pct", 1), "▼ −10.0%");
        assert_eq!(f.delta(0.25, 0.20, "pp", 1), "▲ +5.0 pp");
        assert_eq!(f.delta(0.20, 0.2001, "pp", 1), "■ 0.0 pp");
        assert_eq!(f.delta(7.0, 10.0, "num", 0), "▼ −3");
        assert_eq!(f.delta(5.0, 0.0, "pct", 1), "–");
        let zh = Formatter {
            locale: Locale::ZhCn,
            currency: "CNY".into(),
        };
        assert_eq!(zh.delta(0.3, 0.2, "pp", 1), "▲ +10.0个百分点");
    }

    #[test]
    fn translations_fall_back_to_english_then_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(Translations::FILE),
            "en:\n  a: Alpha\n  b: Beta\nzh-CN:\n  a: 甲\n",
        )
        .unwrap();
        let t = Translations::load(dir.path()).unwrap();
        assert_eq!(t.get(Locale::ZhCn, "a"), "甲");
        assert_eq!(t.get(Locale::ZhCn, "b"), "Beta");
        assert_eq!(t.get(Locale::En, "c"), "c");
        assert_eq!(t.get(Locale::ZhCn, "segment.At Risk"), "At Risk");
    }

    #[test]
    fn a_key_translated_twice_is_an_error() {
        // The second `a` would silently win, so an edit lower in the file
        // would hide an earlier one.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(Translations::FILE);
        std::fs::write(&file, "en:\n  a: Alpha\n  b: Beta\n  a: Again\n").unwrap();
        let err = Translations::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("translations.yaml"), "{err}");
        assert!(err.contains("`a` is defined twice"), "{err}");
    }
}
