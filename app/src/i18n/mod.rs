//! Everything people read: locales, the one formatter each for money, quantities and
//! dates, and the catalogue of interface text.
//!
//! Stackbill's customers read English, French, Dutch and Chinese (Taiwan and mainland).
//! Pages never format a number or a date themselves and never spell user-facing text in
//! logic; they call the helpers here, so adding a language is a change in one module.

mod format;
mod messages;

pub use format::{
    format_count, format_date, format_datetime, format_decimal, format_money, format_period, format_quantity,
};
pub use messages::{and_more, invalid_credentials, mapped_on, retry_in_minutes, showing_range, text, Msg};

use serde::{Deserialize, Serialize};
use std::fmt;

/// A supported locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Locale {
    /// English.
    #[default]
    #[serde(rename = "en")]
    En,
    /// French.
    #[serde(rename = "fr")]
    Fr,
    /// Dutch.
    #[serde(rename = "nl")]
    Nl,
    /// Chinese, traditional script (Taiwan).
    #[serde(rename = "zh-TW")]
    ZhTw,
    /// Chinese, simplified script (mainland China).
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Locale {
    /// Every supported locale, for pickers.
    pub const ALL: [Locale; 5] = [Locale::En, Locale::Fr, Locale::Nl, Locale::ZhTw, Locale::ZhCn];

    /// The BCP 47 tag stored in the database and used in `lang` attributes.
    pub fn tag(&self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Fr => "fr",
            Locale::Nl => "nl",
            Locale::ZhTw => "zh-TW",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// The language's own name, for pickers.
    pub fn native_name(&self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Fr => "Français",
            Locale::Nl => "Nederlands",
            Locale::ZhTw => "繁體中文",
            Locale::ZhCn => "简体中文",
        }
    }

    /// Parses a tag leniently (`fr-BE` → French, `zh-Hant` → zh-TW); `None` if unsupported.
    pub fn parse(raw: &str) -> Option<Locale> {
        let lower = raw.trim().to_ascii_lowercase().replace('_', "-");
        let mut parts = lower.split('-');
        match parts.next()? {
            "en" => Some(Locale::En),
            "fr" => Some(Locale::Fr),
            "nl" => Some(Locale::Nl),
            "zh" => {
                let rest: Vec<&str> = parts.collect();
                if rest.iter().any(|p| matches!(*p, "tw" | "hk" | "mo" | "hant")) {
                    Some(Locale::ZhTw)
                } else {
                    Some(Locale::ZhCn)
                }
            }
            _ => None,
        }
    }

    /// Picks the best supported locale from an `Accept-Language` header value.
    pub fn from_accept_language(header: &str) -> Locale {
        let mut candidates: Vec<(f32, usize, Locale)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut it = part.split(';');
                let tag = it.next()?.trim();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Locale::parse(tag).map(|l| (q, i, l))
            })
            .collect();
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        candidates.first().map(|c| c.2).unwrap_or_default()
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_parse_leniently() {
        assert_eq!(Locale::parse("fr-BE"), Some(Locale::Fr));
        assert_eq!(Locale::parse("zh-TW"), Some(Locale::ZhTw));
        assert_eq!(Locale::parse("zh_Hant_HK"), Some(Locale::ZhTw));
        assert_eq!(Locale::parse("zh-CN"), Some(Locale::ZhCn));
        assert_eq!(Locale::parse("zh"), Some(Locale::ZhCn));
        assert_eq!(Locale::parse("de"), None);
        for l in Locale::ALL {
            assert_eq!(Locale::parse(l.tag()), Some(l));
        }
    }

    #[test]
    fn accept_language_picks_the_best_supported_locale() {
        assert_eq!(
            Locale::from_accept_language("de-DE,de;q=0.9,nl;q=0.8,en;q=0.5"),
            Locale::Nl
        );
        assert_eq!(Locale::from_accept_language("zh-TW,zh;q=0.9"), Locale::ZhTw);
        assert_eq!(Locale::from_accept_language("de"), Locale::En);
        assert_eq!(Locale::from_accept_language(""), Locale::En);
    }
}
