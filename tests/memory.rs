//! The bundled pipeline under `engine.memory_limit` well below what an
//! unlimited run uses: it completes (sorts and aggregations spill) with the
//! same results. Peak RSS of both runs is measured (run_results.json) and
//! printed, not asserted: memory is judged by benchmarks.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

fn tables(out: &Path) -> BTreeMap<String, Vec<String>> {
    let mut all = BTreeMap::new();
    for e in std::fs::read_dir(out.join("tables")).unwrap() {
        let dir = e.unwrap().path();
        let text = arrow::util::pretty::pretty_format_batches(&read_parquet(&dir))
            .unwrap()
            .to_string();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        all.insert(
            dir.file_name().unwrap().to_string_lossy().into_owned(),
            lines,
        );
    }
    all
}

/// Two table rows as printed, equal but for floating-point summation order
/// (sums of doubles depend on the order they are added in).
fn same_row(a: &str, b: &str) -> bool {
    let (ca, cb): (Vec<&str>, Vec<&str>) = (a.split('|').collect(), b.split('|').collect());
    ca.len() == cb.len()
        && ca.iter().zip(&cb).all(|(x, y)| {
            let (x, y) = (x.trim(), y.trim());
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(p), Ok(q)) => (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0),
                _ => x == y,
            }
        })
}

#[test]
fn the_pipeline_completes_under_a_memory_limit_with_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sample_data(tmp.path(), &data, 20_000, 5);

    // The bundled pipeline with a 32 MiB pool and a spill folder.
    let limited = bundle_copy(tmp.path());
    let spill = tmp.path().join("spill");
    let mut yaml = std::fs::read_to_string(&limited).unwrap();
    yaml.push_str(&format!(
        "\nengine:\n  memory_limit: 32MiB\n  spill_dir: {}\n",
        spill.display()
    ));
    std::fs::write(&limited, yaml).unwrap();

    let (free_out, tight_out) = (tmp.path().join("free"), tmp.path().join("tight"));
    assert_exit(
        &run_pipeline(
            tmp.path(),
            &bundled_pipeline(),
            "2026-06-30",
            &data,
            &free_out,
            &[],
        ),
        0,
    );
    assert_exit(
        &run_pipeline(tmp.path(), &limited, "2026-06-30", &data, &tight_out, &[]),
        0,
    );

    let (free, tight) = (tables(&free_out), tables(&tight_out));
    assert_eq!(free.len(), 21);
    for (name, rows) in &free {
        let other = &tight[name];
        assert_eq!(rows.len(), other.len(), "{name}");
        for (a, b) in rows.iter().zip(other) {
            assert!(
                same_row(a, b),
                "table {name} differs under the memory limit:\n{a}\n{b}"
            );
        }
    }
    let rss = |out: &Path| {
        read_json(&out.join("run_results.json"))["peak_rss_bytes"]
            .as_u64()
            .unwrap_or(0)
            >> 20
    };
    eprintln!(
        "peak RSS: unlimited {} MiB, with a 32 MiB pool {} MiB",
        rss(&free_out),
        rss(&tight_out)
    );
}
