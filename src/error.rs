//! The errors a user sees, and the exit code each maps to.
//!
//! Library code returns [`Error`]; the CLI prints it and exits with
//! [`Error::exit_code`]: 2 for a usage or configuration problem found before
//! anything ran, 1 for a failure while running, 130 or 143 for a run stopped
//! by SIGINT or SIGTERM.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// The pipeline file, its params or the command line are wrong. Exit 2.
    #[error("{message}")]
    Config { message: String },

    /// Several configuration problems found at once (by `validate` or
    /// planning), and the steps not checked because of them. Exit 2.
    #[error("{}", invalid(.0))]
    Invalid(Vec<String>),

    /// A step failed while running. Exit 1.
    #[error("step `{step}` failed: {message}")]
    Step { step: String, message: String },

    /// Reading or writing storage failed. Exit 1.
    #[error("storage error at `{url}`: {message}")]
    Storage { url: String, message: String },

    /// Anything else that failed while running. Exit 1.
    #[error("{0}")]
    Run(String),

    /// The run was stopped by a signal (`SIGINT`, `SIGTERM`) before it
    /// published anything. Exit 128 + the signal's number, as a shell reports it.
    #[error("interrupted by {signal}: the run stopped and published nothing{said}")]
    Interrupted { signal: Signal, said: String },
}

/// Marks a line of [`Error::Invalid`] that is not a problem of its own but a
/// step left unchecked because of one: `step `x`: not checked, because …`.
pub const NOT_CHECKED: &str = ": not checked, because ";

/// `2 problems found:` and their lines, then `22 steps not checked because
/// of them:` and theirs, so that the count is of what needs fixing.
fn invalid(lines: &[String]) -> String {
    let list = |lines: &[&String]| {
        lines
            .iter()
            .map(|e| format!("  - {}", e.replace('\n', "\n    ")))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (unchecked, problems): (Vec<&String>, Vec<&String>) =
        lines.iter().partition(|l| l.contains(NOT_CHECKED));
    let mut out = format!(
        "{} found:\n{}",
        crate::text::count(problems.len() as u64, "problem"),
        list(&problems)
    );
    if !unchecked.is_empty() {
        out.push_str(&format!(
            "\n{} not checked because of them:\n{}",
            crate::text::count(unchecked.len() as u64, "step"),
            list(&unchecked)
        ));
    }
    out
}

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        })
    }
}

impl Error {
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    /// What went wrong, for a caller that names the location itself: a
    /// storage error's message without its `storage error at `URL`: `.
    pub fn without_location(self) -> String {
        match self {
            Error::Storage { message, .. } => message,
            other => other.to_string(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } | Error::Invalid(_) => 2,
            Error::Step { .. } | Error::Storage { .. } | Error::Run(_) => 1,
            Error::Interrupted {
                signal: Signal::Interrupt,
                ..
            } => 130,
            Error::Interrupted {
                signal: Signal::Terminate,
                ..
            } => 143,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `e`'s message followed by its causes, each not already part of the text
/// before it: libraries often stop at "error sending request" and keep what
/// went wrong (a reset connection, a refused TLS handshake) in the source.
pub fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    without_response_bodies(&message)
}

/// `message` with the bodies of the error responses object stores quote
/// after "Server returned non-2xx status code: 404 Not Found: " cut down:
/// an XML error (S3, GCS, Azure) to its code and message, `NoSuchBucket:
/// The specified bucket does not exist` (without the request ids, on one
/// line), an HTML page (a web server's) left out.
fn without_response_bodies(message: &str) -> String {
    const STATUS: &str = "non-2xx status code: ";
    let Some(at) = message.find(STATUS) else {
        return message.to_string();
    };
    let after_status = at + STATUS.len();
    let Some(body_at) = message[after_status..]
        .find(": <")
        .map(|i| after_status + i)
    else {
        return message.to_string();
    };
    let body = &message[body_at + 2..];
    let end = ["</Error>", "</html>", "</HTML>"]
        .iter()
        .find_map(|close| body.find(close).map(|i| i + close.len()))
        .unwrap_or(body.len());
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = body[..end].find(&open)? + open.len();
        let len = body[start..end].find(&format!("</{name}>"))?;
        Some(body[start..start + len].lines().next().unwrap_or("").trim())
    };
    let said = match (element("Code"), element("Message")) {
        (Some(code), Some(text)) => format!(": {code}: {text}"),
        (Some(code), None) => format!(": {code}"),
        _ => String::new(),
    };
    format!(
        "{}{said}{}",
        &message[..body_at],
        without_response_bodies(body[end..].trim_start())
    )
}

/// The candidate closest to `word`, if any is close enough to be a likely
/// typo: alike (Jaro-Winkler above 0.8) and a few edits away (at most a
/// third of the word's letters, or two). The first test alone took a long
/// shared beginning for a typo: `churn_by_regio` for `churn_by_satisfaction`.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let edits = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, c)| *score > 0.8 && strsim::levenshtein(word, c) <= edits)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("ordrs", ["orders", "customers"]), Some("orders"));
        assert_eq!(suggest("xyz", ["orders", "customers"]), None);
        // 12 edits from it, though alike at the start.
        assert_eq!(suggest("churn_by_regio", ["churn_by_satisfaction"]), None);
        assert_eq!(
            suggest(
                "churn_by_regoin",
                ["churn_by_region", "churn_by_satisfaction"]
            ),
            Some("churn_by_region")
        );
    }

    /// An error with a message and an optional cause.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn causes_follow_the_message_once_each() {
        let reset = Layer("connection reset by peer", None);
        let hidden = Layer(
            "error sending request",
            Some(Box::new(Layer("client error", Some(Box::new(reset))))),
        );
        assert_eq!(
            with_causes(&hidden),
            "error sending request: client error: connection reset by peer"
        );
        // A cause the message already quotes is not repeated.
        let quoted = Layer(
            "Object Store error: disk full",
            Some(Box::new(Layer("disk full", None))),
        );
        assert_eq!(with_causes(&quoted), "Object Store error: disk full");
        assert_eq!(with_causes(&Layer("plain", None)), "plain");
    }

    #[test]
    fn error_responses_are_cut_to_their_code_and_message() {
        let s3 = "Error performing GET http://h/b?list-type=2 in 3ms - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>b</BucketName><RequestId>Ik9u</RequestId></Error>";
        assert_eq!(
            with_causes(&Layer(s3.to_string().leak(), None)),
            "Error performing GET http://h/b?list-type=2 in 3ms - Server returned non-2xx status code: 404 Not Found: NoSuchBucket: The specified bucket does not exist"
        );
        // Azure's message goes on with the request id on lines of its own.
        let azure = "Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>\n<Error>\n  <Code>AuthorizationFailure</Code>\n  <Message>Server failed to authenticate the request.\nRequestId:dc98\nTime:2026</Message>\n</Error>: more";
        assert_eq!(
            without_response_bodies(azure),
            "Server returned non-2xx status code: 403 Forbidden: AuthorizationFailure: Server failed to authenticate the request.: more"
        );
        let html = "status code: 1; Server returned non-2xx status code: 405 Method Not Allowed: <!DOCTYPE HTML>\n<html><head><title>405</title></head></html>\n";
        assert_eq!(
            without_response_bodies(html),
            "status code: 1; Server returned non-2xx status code: 405 Method Not Allowed"
        );
        let plain = "Server returned non-2xx status code: 500 Internal Server Error: oops";
        assert_eq!(without_response_bodies(plain), plain);
    }

    #[test]
    fn problems_are_counted_apart_from_the_steps_left_unchecked() {
        let e = Error::Invalid(vec![
            "source `orders`: no Parquet files".into(),
            format!("step `a`{NOT_CHECKED}source `orders` could not be read"),
            format!("step `b`{NOT_CHECKED}step `a` has errors"),
            "step `c`: SQL error\nat line 2".into(),
        ]);
        assert_eq!(
            e.to_string(),
            "2 problems found:\n  - source `orders`: no Parquet files\n  - step `c`: SQL error\n    at line 2\n\
             2 steps not checked because of them:\n  - step `a`: not checked, because source `orders` could not be read\n  - step `b`: not checked, because step `a` has errors"
        );
        let one = Error::Invalid(vec!["x".into()]);
        assert_eq!(one.to_string(), "1 problem found:\n  - x");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Error::config("x").exit_code(), 2);
        assert_eq!(Error::Invalid(vec!["a".into()]).exit_code(), 2);
        assert_eq!(Error::Run("x".into()).exit_code(), 1);
        // As a shell reports a process its signal stopped: 128 + 2, 128 + 15.
        let stopped = |signal| Error::Interrupted {
            signal,
            said: String::new(),
        };
        assert_eq!(stopped(Signal::Interrupt).exit_code(), 130);
        assert_eq!(stopped(Signal::Terminate).exit_code(), 143);
    }
}
