//! Keeps secrets out of what a run writes: logs, errors, `run_results.json`
//! and reports. A secret is the value of an environment variable whose name
//! says it holds one (…KEY…, …SECRET…, …TOKEN…, …PASSWORD…, …CREDENTIAL…,
//! …SAS…); URLs are shown without their password and query string.

use std::borrow::Cow;
use std::io::Write;
use std::sync::OnceLock;

use crate::storage::redact;

const MARKERS: &[&str] = &["KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL", "SAS"];
/// Shorter values are too likely to occur by chance to be replaced.
const MIN_LEN: usize = 6;

fn known() -> &'static [String] {
    static SECRETS: OnceLock<Vec<String>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        let mut values: Vec<String> = std::env::vars()
            .filter(|(k, v)| {
                let k = k.to_ascii_uppercase();
                v.len() >= MIN_LEN && MARKERS.iter().any(|m| k.contains(m))
            })
            .map(|(_, v)| v)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values
    })
}

/// `text` with every known secret replaced by `***`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let secrets = known();
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    Cow::Owned(out)
}

/// A param value for display: URLs lose their password and query string.
pub fn display_value(v: &str) -> String {
    if v.contains("://") {
        redact(v)
    } else {
        v.to_string()
    }
}

/// Stderr, scrubbed: the writer logs go through.
pub struct ScrubbedStderr;

impl Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_passwords_and_queries() {
        assert_eq!(
            display_value("https://u:p4ss@host/x?sig=abc"),
            "https://u:***@host/x?***"
        );
        assert_eq!(display_value("./data"), "./data");
    }
}
