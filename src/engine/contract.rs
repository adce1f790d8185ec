//! The input contract: the columns each source's data must have, and of
//! what kind (`columns`); the kind of the optional ones it has
//! (`optional_columns`); and ids of one name of one kind across sources.
//! Every problem of every registered source is found at once, before any
//! check or step runs.

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::prelude::SessionContext;

use super::{SourceResult, step_sql_options};
use crate::plan::Plan;
use crate::spec::ColumnKind;
use crate::text::code_list;

/// The contract's problems with the registered sources, and the sources
/// they make unusable.
pub async fn problems(
    ctx: &SessionContext,
    plan: &Plan,
    results: &[SourceResult],
) -> (Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let mut broken = Vec::new();
    // Id column → (source, is text), in file order, of the sound sources.
    let mut ids: Vec<(&str, Vec<(&str, bool)>)> = Vec::new();
    for src in &plan.sources {
        if (src.columns.is_empty() && src.optional_columns.is_empty())
            || !results
                .iter()
                .any(|r| r.name == src.name && r.status == "registered")
        {
            continue;
        }
        let Some(schema) = data_schema(ctx, &src.name).await else {
            continue;
        };
        let before = errors.len();
        for (column, kind) in &src.columns {
            match schema.field_with_name(column) {
                Err(_) => errors.push(format!(
                    "source `{}`: required column `{column}` is missing: expected {} (found: {}); map your data with a staging step or fix the source",
                    src.name,
                    kind.describe(),
                    code_list(schema.fields().iter().map(|f| f.name()))
                )),
                Ok(f) if !kind.accepts(f.data_type()) => errors.push(format!(
                    "source `{}`: column `{column}` is {}, expected {}; write it with that type, or declare it as `string` and cast it in a staging SQL step (README: \"The input contract\")",
                    src.name,
                    f.data_type(),
                    kind.describe()
                )),
                Ok(_) => {}
            }
        }
        for (column, declared) in &src.optional_columns {
            let Ok(f) = schema.field_with_name(column) else {
                continue;
            };
            let Some(kind) = declared_type(ctx, declared)
                .await
                .as_ref()
                .and_then(ColumnKind::of_declared)
            else {
                continue;
            };
            if !kind.accepts(f.data_type()) {
                errors.push(format!(
                    "source `{}`: optional column `{column}` is {}, expected {} (`optional_columns` says {declared}); write it with that type, or cast it in a staging SQL step (README: \"The input contract\")",
                    src.name,
                    f.data_type(),
                    kind.describe()
                ));
            }
        }
        if errors.len() > before {
            broken.push(src.name.clone());
            continue;
        }
        for (column, kind) in &src.columns {
            let Ok(field) = schema.field_with_name(column) else {
                continue;
            };
            if *kind != ColumnKind::Id {
                continue;
            }
            let text = ColumnKind::String.accepts(field.data_type());
            match ids.iter_mut().find(|(c, _)| c == column) {
                Some((_, seen)) => seen.push((src.name.as_str(), text)),
                None => ids.push((column.as_str(), vec![(src.name.as_str(), text)])),
            }
        }
    }
    for (message, sources) in mixed_ids(ids) {
        errors.push(message);
        broken.extend(sources);
    }
    (errors, broken)
}

/// The columns of a registered source's data itself, before optional ones
/// are added.
async fn data_schema(ctx: &SessionContext, source: &str) -> Option<Schema> {
    let raw = format!("__loyalty_raw_{source}");
    let table = match ctx.table(raw.as_str()).await {
        Ok(t) => t,
        Err(_) => ctx.table(source).await.ok()?,
    };
    Some(table.schema().as_arrow().clone())
}

/// The Arrow type of a SQL type named in `optional_columns` (`None` when
/// DataFusion cannot read it: registering the source says so).
async fn declared_type(ctx: &SessionContext, sql_type: &str) -> Option<DataType> {
    let sql = format!("SELECT CAST(NULL AS {sql_type}) AS t");
    let df = ctx.sql_with_options(&sql, step_sql_options()).await.ok()?;
    Some(df.schema().field(0).data_type().clone())
}

/// Id columns of one name (`ids`: each with its sources and whether it is
/// text there) that are text in some sources and integers in others: the
/// steps join the tables on them, and a join of text with integers fails
/// (or, cast, matches nothing) deep inside a step. One message per such
/// column, with the sources of the kind that differs from the first source
/// declaring it (in file order), which are then taken as broken.
fn mixed_ids(ids: Vec<(&str, Vec<(&str, bool)>)>) -> Vec<(String, Vec<String>)> {
    let kind = |text: bool| if text { "text" } else { "an integer" };
    ids.into_iter()
        .filter_map(|(column, seen)| {
            let first = seen[0].1;
            let (same, other): (Vec<_>, Vec<_>) = seen.iter().partition(|(_, t)| *t == first);
            if other.is_empty() {
                return None;
            }
            let same: Vec<&str> = same.iter().map(|(n, _)| *n).collect();
            let other: Vec<&str> = other.iter().map(|(n, _)| *n).collect();
            let message = format!(
                "column `{column}` is {} in {} but {} in {}: the steps join these tables on it, so it must be of one kind in all of them; write it with one type, or cast it in a staging SQL step (README: \"The input contract\")",
                kind(first),
                code_list(&same),
                kind(!first),
                code_list(&other),
            );
            Some((message, other.into_iter().map(str::to_string).collect()))
        })
        .collect()
}
