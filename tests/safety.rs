//! Secrets from the environment and credentials in URLs never appear in
//! logs, errors, run_results.json or reports.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

const AWS_SECRET: &str = "fakeAwsSecret/0123456789";
const TOKEN: &str = "tok_live_ABCDEF123456";
const URL_PASSWORD: &str = "hunter2-in-a-url";

fn run_with_secrets(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(args)
        .current_dir(cwd)
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env("LOYALTY_TEST_API_TOKEN", TOKEN)
        .env("LOYALTY_LOG", "loyalty=debug")
        .output()
        .unwrap()
}

/// Every file under `dir`, as text.
fn all_text(dir: &Path) -> String {
    files_under(dir)
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .collect()
}

fn assert_no_secret(what: &str, text: &str) {
    for s in [AWS_SECRET, TOKEN, URL_PASSWORD] {
        assert!(!text.contains(s), "{what} contains the secret `{s}`");
    }
}

#[test]
fn secrets_stay_out_of_every_artifact_and_log() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    analyses_fixture(&data, true);
    // A param holding a URL with a password and a token, shown in the report
    // and run_results.json; a source whose URL carries the token and fails.
    let p = pipeline_file(
        tmp.path(),
        &format!(
            "name: t
params:
  api: {{ type: string, default: \"https://svc:{URL_PASSWORD}@127.0.0.1:9/v1?key=${{LOYALTY_TEST_API_TOKEN}}\" }}
sources:
  orders: data/orders/
output_root: out
steps:
  n:
    sql: SELECT COUNT(*) AS n, {{{{ api }}}} AS api FROM orders
outputs:
  - {{ step: n, path: n.csv, format: csv }}
reports:
  - template: report.md.j2
    path: report.md
"
        ),
    );
    std::fs::write(
        tmp.path().join("report.md.j2"),
        "{% for k, v in params|items %}{{ k }}={{ v }}\n{% endfor %}",
    )
    .unwrap();
    let ok = run_with_secrets(tmp.path(), &["run", p.to_str().unwrap()]);
    assert_exit(&ok, 0);
    let report = std::fs::read_to_string(tmp.path().join("out/report.md")).unwrap();
    // (Markdown escapes the stars, which it would otherwise read as emphasis.)
    assert!(
        report.contains(r"api=https://svc:\*\*\*@127.0.0.1:9/v1?\*\*\*"),
        "{report}"
    );

    // The step output holds the param's value as data the user asked for;
    // everything the tool writes about the run must not.
    let results = std::fs::read_to_string(tmp.path().join("out/run_results.json")).unwrap();
    assert_no_secret("run_results.json", &results);
    assert_no_secret("report.md", &report);
    assert_no_secret("stdout", &stdout(&ok));
    assert_no_secret("logs", &stderr(&ok));

    // A failing source whose URL carries the token.
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: t\nsources:\n  orders: http://127.0.0.1:9/orders.parquet?token=${LOYALTY_TEST_API_TOKEN}\noutput_root: out2\nsteps:\n  a:\n    sql: SELECT * FROM orders\n",
    )
    .unwrap();
    for format in ["text", "json"] {
        let failed = run_with_secrets(
            tmp.path(),
            &["--log-format", format, "run", bad.to_str().unwrap()],
        );
        assert_says(&failed, 1, &["orders"]);
        assert_no_secret("logs of a failed run", &stderr(&failed));
    }
    assert_no_secret(
        "the failed run's outputs",
        &all_text(&tmp.path().join("out2")),
    );
}
