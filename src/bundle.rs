//! The bundled pipeline (`pipelines/`, `sql/`, `report_templates/`), embedded
//! in the binary so `loyalty demo` works from any directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::error::{Error, Result};

static PIPELINES: Dir = include_dir!("$CARGO_MANIFEST_DIR/pipelines");
static SQL: Dir = include_dir!("$CARGO_MANIFEST_DIR/sql");
static TEMPLATES: Dir = include_dir!("$CARGO_MANIFEST_DIR/report_templates");

/// The bundled pipeline file, relative to the folder it is extracted into.
pub const PIPELINE: &str = "pipelines/customer_loyalty.yaml";

/// The bundled pipeline's default locations, as the repository's
/// `pipelines/` reads them (the data `demo` writes into the repository's
/// `demo/`, outputs into `out/`), and as its copy reads them, written
/// beside the data: `demo/pipelines/` then runs without `--param`s.
const LOCATIONS_IN_COPY: [(&str, &str); 2] = [
    (
        "${LOYALTY_DATA_ROOT:-../demo/data}",
        "${LOYALTY_DATA_ROOT:-../data}",
    ),
    (
        "${LOYALTY_OUT_ROOT:-../out}",
        "${LOYALTY_OUT_ROOT:-../output}",
    ),
];

/// Where [`extract`] records what it wrote: each file's path and a hash of
/// the contents written (for a file the user edited, of the version their
/// edit is to be merged with), so that a later `extract` tells a file the
/// user edited from one an older version of loyalty wrote.
pub const RECORD: &str = ".loyalty-bundle.json";

/// The bundled pipeline written out: its pipeline file, the files already
/// there that the user changed (kept), and the files an older version
/// wrote and nobody changed since (replaced by this version's).
pub struct Extracted {
    pub pipeline: PathBuf,
    pub kept: Vec<Kept>,
    pub updated: Vec<PathBuf>,
}

/// A file the user changed, kept as it is; where this version bundles
/// another file than the one the user started from, that one is written
/// beside it (`<name>.bundled`) to merge from: an edited pipeline file kept
/// through an upgrade may lack a step the updated SQL reads.
pub struct Kept {
    pub path: PathBuf,
    pub bundled_beside: Option<PathBuf>,
}

/// Writes the bundled pipeline, SQL and templates under `dest`, keeping the
/// layout of the repository; the pipeline file's default data and output
/// folders are `dest`'s `data/` and `output/`, where `demo` writes. A file
/// already there with other contents is replaced when it is as an earlier
/// `extract` wrote it (this version's SQL and templates then reach a copy
/// written before an upgrade), and kept and listed when it was edited
/// since, with this version's beside it when that differs from the one the
/// edit started from (or that is not known: a folder written before the
/// record was kept).
pub fn extract(dest: &Path) -> Result<Extracted> {
    let record_path = dest.join(RECORD);
    let written_before: BTreeMap<String, String> = std::fs::read(&record_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let mut out = Extraction {
        written_before,
        written: BTreeMap::new(),
        kept: Vec::new(),
        updated: Vec::new(),
    };
    for (name, dir) in [
        ("pipelines", &PIPELINES),
        ("sql", &SQL),
        ("report_templates", &TEMPLATES),
    ] {
        out.write(dir, dest, name)?;
    }
    let record = serde_json::to_vec_pretty(&out.written).expect("a map of strings");
    std::fs::write(&record_path, record).map_err(|e| io_err(&record_path, e))?;
    Ok(Extracted {
        pipeline: dest.join(PIPELINE),
        kept: out.kept,
        updated: out.updated,
    })
}

struct Extraction {
    /// Relative path → hash of what the last `extract` wrote there.
    written_before: BTreeMap<String, String>,
    written: BTreeMap<String, String>,
    kept: Vec<Kept>,
    updated: Vec<PathBuf>,
}

impl Extraction {
    fn write(&mut self, dir: &Dir, dest: &Path, top: &str) -> Result<()> {
        for file in dir.files() {
            let relative = format!("{top}/{}", file.path().display());
            if top == "pipelines" && relative != PIPELINE {
                // A developer's own pipelines there (`_*.yaml`, which git
                // ignores) are in a binary built from their tree: not ours.
                continue;
            }
            let path = dest.join(&relative);
            let contents = copy_contents(&relative, file.contents());
            let contents = contents.as_slice();
            let bundled = hash(contents);
            match std::fs::read(&path) {
                Ok(existing) if existing == contents => {}
                Ok(existing) if self.written_before.get(&relative) != Some(&hash(&existing)) => {
                    // Edited since it was written: the user's, kept.
                    let started_from = self.written_before.get(&relative);
                    let bundled_beside = if started_from == Some(&bundled) {
                        None
                    } else {
                        let beside = bundled_beside_path(&path);
                        std::fs::write(&beside, contents).map_err(|e| io_err(&beside, e))?;
                        Some(beside)
                    };
                    // This version's file goes on record as the one the
                    // edit is to be merged with: once its copy beside has
                    // been merged and deleted, it is not written again.
                    self.written.insert(relative, bundled);
                    self.kept.push(Kept {
                        path,
                        bundled_beside,
                    });
                    continue;
                }
                Ok(_) => {
                    std::fs::write(&path, contents).map_err(|e| io_err(&path, e))?;
                    self.updated.push(path.clone());
                }
                Err(_) => {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
                    }
                    std::fs::write(&path, contents).map_err(|e| io_err(&path, e))?;
                }
            }
            self.written.insert(relative, bundled);
            // The bundled file is in place: a copy written beside an edited
            // one earlier has been taken (or the edit deleted) and goes.
            let beside = bundled_beside_path(&path);
            if std::fs::read(&beside).is_ok_and(|b| b == contents) {
                std::fs::remove_file(&beside).map_err(|e| io_err(&beside, e))?;
            }
        }
        for sub in dir.dirs() {
            self.write(sub, dest, top)?;
        }
        Ok(())
    }
}

/// A bundled file as the copy holds it: the pipeline files with the copy's
/// default locations ([`LOCATIONS_IN_COPY`]), the rest as they are.
fn copy_contents(relative: &str, bundled: &[u8]) -> Vec<u8> {
    if !relative.starts_with("pipelines/") {
        return bundled.to_vec();
    }
    let mut text = String::from_utf8_lossy(bundled).into_owned();
    for (repository, copy) in LOCATIONS_IN_COPY {
        text = text.replace(repository, copy);
    }
    text.into_bytes()
}

/// Where this version's copy of an edited file goes: `<name>.bundled`.
fn bundled_beside_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bundled");
    path.with_file_name(name)
}

/// FNV-1a, 64 bits, as hex: stable across Rust versions and platforms
/// (std's hasher is not), and only ever compared with itself.
fn hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Run(format!(
        "writing the bundled pipeline to `{}`: {e}",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_reads_the_folders_beside_it() {
        let bundled = PIPELINES
            .get_file("customer_loyalty.yaml")
            .expect("the bundled pipeline")
            .contents();
        let copy = String::from_utf8(copy_contents(PIPELINE, bundled)).unwrap();
        // Each default the copy replaces is in the bundled file: were one
        // changed there, the copy would silently keep the repository's.
        for (repository, in_copy) in LOCATIONS_IN_COPY {
            assert!(
                String::from_utf8_lossy(bundled).contains(repository),
                "{repository}"
            );
            assert!(copy.contains(in_copy) && !copy.contains(repository));
        }
        assert!(copy.contains("default: ${LOYALTY_DATA_ROOT:-../data}\n"));
        // SQL and templates are copied as they are.
        let sql = b"SELECT '${LOYALTY_DATA_ROOT:-../demo/data}'";
        assert_eq!(copy_contents("sql/x.sql", sql), sql);
    }
}
