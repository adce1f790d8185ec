//! The bundled pipeline (`pipelines/`, `sql/`, `report_templates/`), embedded
//! in the binary so `loyalty demo` works from any directory.

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::error::{Error, Result};

static PIPELINES: Dir = include_dir!("$CARGO_MANIFEST_DIR/pipelines");
static SQL: Dir = include_dir!("$CARGO_MANIFEST_DIR/sql");
static TEMPLATES: Dir = include_dir!("$CARGO_MANIFEST_DIR/report_templates");

/// The bundled pipeline file, relative to the folder it is extracted into.
pub const PIPELINE: &str = "pipelines/customer_loyalty.yaml";

/// The bundled pipeline written out: its pipeline file, and the files
/// already there with other contents, which were kept.
pub struct Extracted {
    pub pipeline: PathBuf,
    pub kept: Vec<PathBuf>,
}

/// Writes the bundled pipeline, SQL and templates under `dest`, keeping the
/// layout of the repository. A file already there with other contents (an
/// edit to a copy written before) is kept, not overwritten, and listed.
pub fn extract(dest: &Path) -> Result<Extracted> {
    let mut kept = Vec::new();
    for (name, dir) in [
        ("pipelines", &PIPELINES),
        ("sql", &SQL),
        ("report_templates", &TEMPLATES),
    ] {
        write_missing(dir, &dest.join(name), &mut kept)?;
    }
    Ok(Extracted {
        pipeline: dest.join(PIPELINE),
        kept,
    })
}

fn write_missing(dir: &Dir, target: &Path, kept: &mut Vec<PathBuf>) -> Result<()> {
    for file in dir.files() {
        let path = target.join(file.path());
        match std::fs::read(&path) {
            Ok(existing) if existing != file.contents() => kept.push(path),
            Ok(_) => {}
            Err(_) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
                }
                std::fs::write(&path, file.contents()).map_err(|e| io_err(&path, e))?;
            }
        }
    }
    for sub in dir.dirs() {
        write_missing(sub, target, kept)?;
    }
    Ok(())
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Run(format!(
        "writing the bundled pipeline to `{}`: {e}",
        path.display()
    ))
}
