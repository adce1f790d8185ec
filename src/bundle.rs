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

/// Writes the bundled pipeline, SQL and templates under `dest`, keeping the
/// layout of the repository, and returns the path of the pipeline file.
pub fn extract(dest: &Path) -> Result<PathBuf> {
    for (name, dir) in [
        ("pipelines", &PIPELINES),
        ("sql", &SQL),
        ("report_templates", &TEMPLATES),
    ] {
        let target = dest.join(name);
        std::fs::create_dir_all(&target).map_err(|e| io_err(&target, e))?;
        dir.extract(&target).map_err(|e| io_err(&target, e))?;
    }
    Ok(dest.join(PIPELINE))
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Run(format!(
        "writing the bundled pipeline to `{}`: {e}",
        path.display()
    ))
}
