//! What an access-log line shows: the format (`--log-format`) and the request fields beyond
//! its line that `combined` and `json` need, kept from the request head until the line is
//! written. Below both `log` (which writes lines) and `encode` (whose `Asked` carries them).

use http::header::{HeaderMap, HeaderValue, REFERER, USER_AGENT};

/// How access-log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// `host - - [date] "request" status bytes` (Common Log Format).
    #[default]
    Common,
    /// Common, then `"referer" "user-agent"`: nginx's `combined`.
    Combined,
    /// One JSON object per line (fields listed in the README).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "common" => Ok(LogFormat::Common),
            "combined" => Ok(LogFormat::Combined),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("{s:?} is not a log format (common, combined or json)")),
        }
    }
}

/// What the `combined` and `json` formats show of a request beyond its line, kept from its
/// head (two reference-counted clones, only when the format shows them).
#[derive(Debug, Default, Clone)]
pub(crate) struct Meta {
    pub(crate) referer: Option<HeaderValue>,
    pub(crate) agent: Option<HeaderValue>,
}

impl Meta {
    pub(crate) fn of(format: LogFormat, enabled: bool, headers: &HeaderMap) -> Meta {
        if !enabled || format == LogFormat::Common {
            return Meta::default();
        }
        Meta { referer: headers.get(REFERER).cloned(), agent: headers.get(USER_AGENT).cloned() }
    }
}
