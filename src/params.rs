//! Typed pipeline parameters and the minijinja environments that render them:
//! into SQL (every value becomes a typed, quoted SQL literal) and into paths
//! and URLs (plain text).

use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use indexmap::IndexMap;
use minijinja::value::{Object, ObjectRepr};
use minijinja::{AutoEscape, Environment, ErrorKind, State, UndefinedBehavior, Value};

use crate::spec::{ParamSpec, ParamType};

/// A parameter value of its declared type.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Date(NaiveDate),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl ParamValue {
    /// Parses a value given on the command line (or as a YAML string).
    pub fn parse(kind: ParamType, raw: &str, today: NaiveDate) -> Result<Self, String> {
        let raw = raw.trim();
        let bad = |what: &str| format!("`{raw}` is not a valid {kind}: expected {what}");
        Ok(match kind {
            ParamType::Date if raw.eq_ignore_ascii_case("today") => ParamValue::Date(today),
            ParamType::Date => ParamValue::Date(
                NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .map_err(|_| bad("a date as YYYY-MM-DD (or `today`)"))?,
            ),
            ParamType::Int => ParamValue::Int(raw.parse().map_err(|_| bad("a whole number"))?),
            ParamType::Float => {
                let v: f64 = raw.parse().map_err(|_| bad("a number"))?;
                if !v.is_finite() {
                    return Err(bad("a finite number"));
                }
                ParamValue::Float(v)
            }
            ParamType::Bool => ParamValue::Bool(match raw.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                _ => return Err(bad("true or false")),
            }),
            ParamType::String => ParamValue::Str(raw.to_string()),
        })
    }

    /// Converts a YAML default of the declared type.
    pub fn from_yaml(
        kind: ParamType,
        value: &serde_yaml::Value,
        today: NaiveDate,
    ) -> Result<Self, String> {
        use serde_yaml::Value as Y;
        match (kind, value) {
            (ParamType::String, Y::String(s)) => {
                crate::spec::interpolate(s, |k| std::env::var(k).ok()).map(ParamValue::Str)
            }
            (ParamType::String, Y::Number(n)) => Ok(ParamValue::Str(n.to_string())),
            (_, Y::String(s)) => {
                let s = crate::spec::interpolate(s, |k| std::env::var(k).ok())?;
                Self::parse(kind, &s, today)
            }
            (ParamType::Int, Y::Number(n)) => n
                .as_i64()
                .map(ParamValue::Int)
                .ok_or_else(|| format!("`{n}` is not a valid int: expected a whole number")),
            (ParamType::Float, Y::Number(n)) => n
                .as_f64()
                .map(ParamValue::Float)
                .ok_or_else(|| format!("`{n}` is not a valid float")),
            (ParamType::Bool, Y::Bool(b)) => Ok(ParamValue::Bool(*b)),
            (kind, other) => Err(format!(
                "default `{}` is not a valid {kind}",
                serde_yaml::to_string(other).unwrap_or_default().trim_end()
            )),
        }
    }

    /// The value as a SQL literal of its type; strings are quoted with `'`
    /// doubled, so no value can end the literal.
    pub fn sql_literal(&self) -> String {
        match self {
            ParamValue::Date(d) => format!("DATE '{}'", d.format("%Y-%m-%d")),
            ParamValue::Int(i) => i.to_string(),
            ParamValue::Float(f) => format_float(*f),
            ParamValue::Str(s) => quote_sql_string(s),
            ParamValue::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ParamValue::Date(d) => d.format("%Y-%m-%d").to_string().into(),
            ParamValue::Int(i) => (*i).into(),
            ParamValue::Float(f) => (*f).into(),
            ParamValue::Str(s) => s.clone().into(),
            ParamValue::Bool(b) => (*b).into(),
        }
    }

    /// The value for a template: dates become a [`DateParam`] so the SQL
    /// formatter knows to write them as `DATE '…'`.
    pub fn to_template_value(&self) -> Value {
        match self {
            ParamValue::Date(d) => Value::from_object(DateParam(*d)),
            ParamValue::Int(i) => Value::from(*i),
            ParamValue::Float(f) => Value::from(*f),
            ParamValue::Str(s) => Value::from(s.as_str()),
            ParamValue::Bool(b) => Value::from(*b),
        }
    }

    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            ParamValue::Date(d) => Some(*d),
            _ => None,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(v) => f.write_str(&format_float(*v)),
            ParamValue::Str(s) => f.write_str(s),
            ParamValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The value if it is within the param's `min` and `max`.
fn within_bounds(name: &str, spec: &ParamSpec, v: ParamValue) -> Result<ParamValue, String> {
    if spec.min.is_none() && spec.max.is_none() {
        return Ok(v);
    }
    let n = match v {
        ParamValue::Int(i) => i as f64,
        ParamValue::Float(f) => f,
        _ => {
            return Err(format!(
                "param `{name}`: `min` and `max` apply to int and float params, not {}",
                spec.kind
            ));
        }
    };
    let bounds = match (spec.min, spec.max) {
        (Some(lo), Some(hi)) if lo > hi => {
            return Err(format!(
                "param `{name}`: its `min` ({lo}) is above its `max` ({hi}): no value fits"
            ));
        }
        (Some(lo), Some(hi)) => format!("from {lo} to {hi}"),
        (Some(lo), None) => format!("of at least {lo}"),
        (None, Some(hi)) => format!("of at most {hi}"),
        (None, None) => unreachable!("checked above"),
    };
    if spec.min.is_some_and(|lo| n < lo) || spec.max.is_some_and(|hi| n > hi) {
        return Err(format!(
            "param `{name}`: `{v}` is out of its bounds: give a value {bounds}"
        ));
    }
    Ok(v)
}

fn format_float(f: f64) -> String {
    let s = f.to_string();
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

pub fn quote_sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A date parameter inside templates: renders as `YYYY-MM-DD` in paths and as
/// `DATE 'YYYY-MM-DD'` in SQL; `.year`, `.month`, `.day` are available.
#[derive(Debug, Clone, Copy)]
pub struct DateParam(pub NaiveDate);

impl Object for DateParam {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        use chrono::Datelike;
        match key.as_str()? {
            "year" => Some(Value::from(self.0.year())),
            "month" => Some(Value::from(self.0.month())),
            "day" => Some(Value::from(self.0.day())),
            _ => None,
        }
    }
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// Resolved parameter values in declaration order.
#[derive(Debug, Clone, Default)]
pub struct Params(pub IndexMap<String, ParamValue>);

impl Params {
    /// Works out every parameter: the YAML default, then `overrides`
    /// (`key=value` from the command line). Every problem is collected.
    pub fn resolve(
        specs: &IndexMap<String, ParamSpec>,
        overrides: &[(String, String)],
        today: NaiveDate,
    ) -> Result<Params, Vec<String>> {
        let mut errors = Vec::new();
        let mut values = IndexMap::new();
        for (name, spec) in specs {
            let given = overrides.iter().rev().find(|(k, _)| k == name);
            let value = match (given, &spec.default) {
                (Some((_, raw)), _) => ParamValue::parse(spec.kind, raw, today)
                    .map_err(|e| format!("param `{name}`: {e}")),
                (None, Some(default)) => ParamValue::from_yaml(spec.kind, default, today)
                    .map_err(|e| format!("param `{name}`: {e}")),
                (None, None) if name == "as_of" => Ok(ParamValue::Date(today)),
                (None, None) => Err(format!(
                    "param `{name}` has no default and was not given: pass `--param {name}=…`"
                )),
            }
            .and_then(|v| within_bounds(name, spec, v));
            match value {
                Ok(v) => {
                    values.insert(name.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        for (key, _) in overrides {
            if !specs.contains_key(key) {
                let hint = crate::error::suggest(key, specs.keys().map(|s| s.as_str()))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                errors.push(format!(
                    "`--param {key}=…`: the pipeline declares no param `{key}`{hint}"
                ));
            }
        }
        if errors.is_empty() {
            Ok(Params(values))
        } else {
            Err(errors)
        }
    }

    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.get(name)
    }

    pub fn as_of(&self) -> NaiveDate {
        self.0
            .get("as_of")
            .and_then(ParamValue::as_date)
            .expect("plan guarantees a date `as_of` param")
    }

    pub fn template_context(&self) -> Value {
        map_value(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_template_value())),
        )
    }

    /// The params as JSON for `run_results.json`, URLs without credentials.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(k, v)| match v {
                    ParamValue::Str(s) => (k.clone(), crate::secrets::display_value(s).into()),
                    other => (k.clone(), other.to_json()),
                })
                .collect(),
        )
    }

    /// The params for report templates: typed, URLs without credentials.
    pub fn display_context(&self) -> Value {
        map_value(self.0.iter().map(|(k, v)| match v {
            ParamValue::Str(s) => (k.clone(), Value::from(crate::secrets::display_value(s))),
            other => (k.clone(), other.to_template_value()),
        }))
    }
}

/// A template map from key/value pairs, keeping their order.
pub fn map_value(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::from(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect::<IndexMap<Value, Value>>(),
    )
}

/// Parses `key=value` from `--param`.
pub fn parse_override(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{raw}` is not `key=value`")),
    }
}

/// The environment for SQL templates. Every `{{ value }}` is written as a SQL
/// literal of its type (strings quoted, dates as `DATE '…'`), so a parameter
/// can never inject SQL. Filters: `sql` (the same, explicitly), `days`
/// (an int as `INTERVAL 'N days'`), `ident` (a string as a quoted identifier).
/// `raise("message")` stops planning with that message (for checks on params).
/// `seconds_between("a", "b")`: the seconds that passed from wall-clock time
/// `a` to `b` (SQL expressions) on the clock of `zone`, the pipeline's
/// `timezone` ([`seconds_between`]).
/// `{% include %}` and `{% import %}` load from `include_dir`.
pub fn sql_environment(include_dir: &std::path::Path, zone: Option<&str>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_loader(minijinja::path_loader(include_dir));
    env.add_function("raise", |msg: String| -> Result<Value, minijinja::Error> {
        Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
    });
    let zone = zone.map(str::to_string);
    env.add_function("seconds_between", move |a: String, b: String| {
        Value::from_safe_string(seconds_between(&a, &b, zone.as_deref()))
    });
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A custom auto-escape mode, so macro and include output counts as SQL
    // already written (safe), while every value goes through the formatter.
    env.set_auto_escape_callback(|_| AutoEscape::Custom("sql".into()));
    env.set_formatter(|out, _state, value| {
        let text = if value.is_safe() {
            value.to_string()
        } else {
            sql_literal_of(value)?
        };
        out.write_str(&text)
            .map_err(|e| minijinja::Error::new(ErrorKind::WriteFailure, e.to_string()))
    });
    env.add_filter(
        "sql",
        |state: &State, v: Value| -> Result<Value, minijinja::Error> {
            // NULL is for none: a name nothing defines (`as_off | sql`) would
            // otherwise compare every row with NULL.
            refuse_undefined(state, &v, "sql", "")?;
            Ok(Value::from_safe_string(sql_literal_of(&v)?))
        },
    );
    env.add_filter(
        "days",
        |state: &State, v: Value| -> Result<Value, minijinja::Error> {
            refuse_undefined(state, &v, "days", "")?;
            let n = i64::try_from(v.clone()).map_err(|_| {
                minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("`days` needs a whole number, got `{v}`"),
                )
            })?;
            Ok(Value::from_safe_string(format!("INTERVAL '{n} days'")))
        },
    );
    env.add_filter("ident", |v: String| {
        Value::from_safe_string(format!("\"{}\"", v.replace('"', "\"\"")))
    });
    env
}

/// SQL for the seconds that passed from wall-clock time `a` to `b` (SQL
/// expressions of timestamps without a time zone: the business's clock).
/// Without a zone, their difference. With one, each is first read as the
/// instant it names there (`arrow_try_cast` to a zoned timestamp), so that a
/// change of clocks in between counts: from 12:00 on the day before Berlin's
/// clocks go forward to 12:00 the day after is 47 hours, not 48. A time the
/// clocks show twice (the hour they go back) names no one instant: a
/// duration from or to one is the wall-clock difference. Only DataFusion's
/// own functions, for Ballista's executors.
pub fn seconds_between(a: &str, b: &str, zone: Option<&str>) -> String {
    let wall = format!("date_part('epoch', ({b}) - ({a}))");
    let Some(zone) = zone else {
        return wall;
    };
    let zoned = format!(
        "'Timestamp(Microsecond, Some(\"{}\"))'",
        zone.replace('\'', "''")
    );
    let micros = |e: &str| format!("arrow_cast(arrow_try_cast({e}, {zoned}), 'Int64')");
    format!(
        "COALESCE(CAST({} - {} AS DOUBLE) / 1000000, {wall})",
        micros(b),
        micros(a)
    )
}

/// An undefined value given to filter or function `name` in a strict
/// environment is a name nothing defines (a misspelt param or column): an
/// error, as printing it is, not a NULL, a dash or a gap where the value
/// was meant. `hint` follows the message. An environment that lets
/// undefined values through (the report column check) gets them.
pub fn refuse_undefined(
    state: &State,
    v: &Value,
    name: &str,
    hint: &str,
) -> Result<(), minijinja::Error> {
    if v.is_undefined() && state.undefined_behavior() == UndefinedBehavior::Strict {
        return Err(minijinja::Error::new(
            ErrorKind::UndefinedError,
            format!("`{name}` was given a name that is not defined{hint}"),
        ));
    }
    Ok(())
}

fn sql_literal_of(value: &Value) -> Result<String, minijinja::Error> {
    if let Some(d) = value.downcast_object_ref::<DateParam>() {
        return Ok(format!("DATE '{}'", d.0.format("%Y-%m-%d")));
    }
    if value.is_none() || value.is_undefined() {
        return Ok("NULL".into());
    }
    if value.kind() == minijinja::value::ValueKind::Bool {
        return Ok(if value.is_true() { "TRUE" } else { "FALSE" }.into());
    }
    if value.is_integer() {
        return Ok(value.to_string());
    }
    if value.is_number() {
        let f = f64::try_from(value.clone()).unwrap_or(f64::NAN);
        if !f.is_finite() {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("`{value}` has no SQL literal"),
            ));
        }
        return Ok(format_float(f));
    }
    if let Some(s) = value.as_str() {
        return Ok(quote_sql_string(s));
    }
    if let Ok(iter) = value.try_iter() {
        let items: Result<Vec<String>, _> = iter.map(|v| sql_literal_of(&v)).collect();
        return Ok(format!("({})", items?.join(", ")));
    }
    Err(minijinja::Error::new(
        ErrorKind::InvalidOperation,
        format!("`{value}` has no SQL literal"),
    ))
}

/// The environment for paths and URLs: plain text, strict about undefined names.
pub fn text_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env
}

/// Renders a short template string (a path or URL) with the params in scope.
pub fn render_text(template: &str, params: &Params) -> Result<String, String> {
    if !template.contains("{{") && !template.contains("{%") {
        return Ok(template.to_string());
    }
    text_environment()
        .render_str(template, params.template_context())
        .map_err(|e| describe_template_error(&e))
}

/// The params a text template uses, in the order they are declared: where
/// a location came from, for an error about it to name.
pub fn params_in(template: &str, params: &Params) -> Vec<String> {
    let env = text_environment();
    let Ok(tmpl) = env.template_from_str(template) else {
        return Vec::new();
    };
    let used = tmpl.undeclared_variables(false);
    params
        .0
        .keys()
        .filter(|name| used.contains(name.as_str()))
        .cloned()
        .collect()
}

/// A minijinja error in one line, with the line number where it has one.
pub fn describe_template_error(e: &minijinja::Error) -> String {
    let one = |e: &minijinja::Error| {
        let mut msg = match e.line() {
            Some(line) => format!("line {line}: {}", e.kind()),
            None => e.kind().to_string(),
        };
        if let Some(detail) = e.detail() {
            msg.push_str(": ");
            msg.push_str(detail);
        }
        msg
    };
    let mut msg = one(e);
    // An error inside an included template is the cause of the include's
    // ("could not render include"): say what and where it was.
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        match c.downcast_ref::<minijinja::Error>() {
            Some(inner) => {
                msg.push_str("; in `");
                msg.push_str(inner.name().unwrap_or("?"));
                msg.push_str("`, ");
                msg.push_str(&one(inner));
            }
            None => {
                msg.push_str("; ");
                msg.push_str(&c.to_string());
            }
        }
        cause = c.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn specs(yaml: &str) -> IndexMap<String, ParamSpec> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn parses_each_type_and_refuses_wrong_ones() {
        let today = day("2026-11-23");
        assert_eq!(
            ParamValue::parse(ParamType::Date, "2026-11-22", today).unwrap(),
            ParamValue::Date(day("2026-11-22"))
        );
        assert_eq!(
            ParamValue::parse(ParamType::Date, "today", today).unwrap(),
            ParamValue::Date(today)
        );
        let err = ParamValue::parse(ParamType::Date, "2026-13-01", today).unwrap_err();
        assert!(err.contains("`2026-13-01` is not a valid date"), "{err}");
        assert_eq!(
            ParamValue::parse(ParamType::Int, "90", today).unwrap(),
            ParamValue::Int(90)
        );
        assert!(ParamValue::parse(ParamType::Int, "9.5", today).is_err());
        assert_eq!(
            ParamValue::parse(ParamType::Float, "0.25", today).unwrap(),
            ParamValue::Float(0.25)
        );
        assert!(ParamValue::parse(ParamType::Float, "NaN", today).is_err());
        assert_eq!(
            ParamValue::parse(ParamType::Bool, "yes", today).unwrap(),
            ParamValue::Bool(true)
        );
        assert!(ParamValue::parse(ParamType::Bool, "maybe", today).is_err());
    }

    #[test]
    fn resolves_defaults_overrides_and_collects_errors() {
        let s = specs(
            "as_of: { type: date }\nchurn_days: { type: int, default: 90 }\nname: { type: string, default: x }\n",
        );
        let today = day("2026-11-23");
        let p = Params::resolve(&s, &[], today).unwrap();
        assert_eq!(p.as_of(), today);
        assert_eq!(p.get("churn_days"), Some(&ParamValue::Int(90)));

        let p = Params::resolve(&s, &[("churn_days".into(), "30".into())], today).unwrap();
        assert_eq!(p.get("churn_days"), Some(&ParamValue::Int(30)));

        let errs = Params::resolve(
            &s,
            &[
                ("as_of".into(), "2026-13-01".into()),
                ("churn_dayz".into(), "1".into()),
            ],
            today,
        )
        .unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains("param `as_of`"), "{errs:?}");
        assert!(errs[1].contains("did you mean `churn_days`?"), "{errs:?}");
    }

    #[test]
    fn values_and_defaults_outside_min_and_max_are_refused() {
        let s = specs(
            "churn_days: { type: int, default: 90, min: 1 }\n\
             weight: { type: float, default: 0.3, min: 0, max: 1 }\n\
             cap: { type: int, default: 5, max: 4 }\n",
        );
        let today = day("2026-11-23");
        // Values within the bounds, and the bounds themselves, are taken.
        let at_bounds = [("churn_days", "1"), ("weight", "1"), ("cap", "4")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        let p = Params::resolve(&s, &at_bounds, today).unwrap();
        assert_eq!(p.get("churn_days"), Some(&ParamValue::Int(1)));
        assert_eq!(p.get("weight"), Some(&ParamValue::Float(1.0)));
        assert_eq!(p.get("cap"), Some(&ParamValue::Int(4)));
        // Outside them: each param named, with what to give.
        let errs = Params::resolve(
            &s,
            &[
                ("churn_days".into(), "0".into()),
                ("weight".into(), "1.5".into()),
            ],
            today,
        )
        .unwrap_err();
        assert_eq!(
            errs,
            [
                "param `churn_days`: `0` is out of its bounds: give a value of at least 1",
                "param `weight`: `1.5` is out of its bounds: give a value from 0 to 1",
                "param `cap`: `5` is out of its bounds: give a value of at most 4",
            ]
        );
        let s = specs("n: { type: int, default: 3, min: 5, max: 1 }\n");
        let errs = Params::resolve(&s, &[], today).unwrap_err();
        assert_eq!(
            errs,
            ["param `n`: its `min` (5) is above its `max` (1): no value fits"]
        );
        let s = specs("name: { type: string, default: x, min: 1 }\n");
        let errs = Params::resolve(&s, &[], today).unwrap_err();
        assert!(
            errs[0].contains("apply to int and float params, not string"),
            "{errs:?}"
        );
    }

    #[test]
    fn string_defaults_take_environment_variables() {
        // PATH is set wherever tests run; the other name is not.
        let s = specs(
            "a: { type: string, default: \"${PATH}\" }\nb: { type: string, default: \"${LOYALTY_TEST_NEVER_SET:-../demo/data}\" }\n",
        );
        let p = Params::resolve(&s, &[], day("2026-11-23")).unwrap();
        assert_eq!(
            p.get("a"),
            Some(&ParamValue::Str(std::env::var("PATH").unwrap()))
        );
        assert_eq!(p.get("b"), Some(&ParamValue::Str("../demo/data".into())));
    }

    #[test]
    fn sql_rendering_quotes_every_value_by_type() {
        let s = specs(
            "as_of: { type: date }\nn: { type: int, default: 90 }\nf: { type: float, default: 0.5 }\nb: { type: bool, default: true }\nname: { type: string, default: \"O'Brien'; DROP TABLE orders; --\" }\n",
        );
        let p = Params::resolve(&s, &[], day("2026-11-22")).unwrap();
        let env = sql_environment(std::path::Path::new("."), None);
        let out = env
            .render_str(
                "{{ as_of }} {{ n }} {{ f }} {{ b }} {{ name }} {{ as_of | sql }} {{ n | days }} {{ as_of.year }}",
                p.template_context(),
            )
            .unwrap();
        assert_eq!(
            out,
            "DATE '2026-11-22' 90 0.5 TRUE 'O''Brien''; DROP TABLE orders; --' DATE '2026-11-22' INTERVAL '90 days' 2026"
        );
    }

    #[test]
    fn undefined_names_in_templates_are_errors() {
        let p = Params::default();
        let err = sql_environment(std::path::Path::new("."), None)
            .render_str("SELECT {{ nope }}", p.template_context())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UndefinedError);
        assert!(render_text("{{ nope }}/x", &p).is_err());
        // Through a filter too: not NULL, not "needs a whole number".
        for (text, said) in [
            (
                "{{ nope | sql }}",
                "`sql` was given a name that is not defined",
            ),
            (
                "{{ nope | days }}",
                "`days` was given a name that is not defined",
            ),
        ] {
            let err = sql_environment(std::path::Path::new("."), None)
                .render_str(text, p.template_context())
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UndefinedError, "{text}");
            assert!(err.to_string().contains(said), "{text}: {err}");
        }
        // NULL is for none.
        let none = sql_environment(std::path::Path::new("."), None)
            .render_str("{{ none | sql }}", p.template_context())
            .unwrap();
        assert_eq!(none, "NULL");
    }

    #[test]
    fn raise_stops_rendering_with_its_message() {
        let s = specs("w: { type: float, default: 0.7 }\n");
        let p = Params::resolve(&s, &[], day("2026-11-22")).unwrap();
        let err = sql_environment(std::path::Path::new("."), None)
            .render_str(
                "{% if w != 1 %}{{ raise('weights must sum to 1, got ' ~ w) }}{% endif %}SELECT 1",
                p.template_context(),
            )
            .unwrap_err();
        assert!(
            describe_template_error(&err).contains("weights must sum to 1, got 0.7"),
            "{err}"
        );
    }

    #[test]
    fn finds_the_params_a_location_uses() {
        let s = specs(
            "data_root: { type: string, default: d }\nregion: { type: string, default: eu }\n",
        );
        let p = Params::resolve(&s, &[], day("2026-11-23")).unwrap();
        assert_eq!(
            params_in("{{ region }}/{{ data_root }}/orders/", &p),
            ["data_root", "region"]
        );
        assert!(params_in("data/orders/", &p).is_empty());
    }

    #[test]
    fn text_rendering_is_plain() {
        let s = specs("as_of: { type: date }\nroot: { type: string, default: s3://b/crm }\n");
        let p = Params::resolve(&s, &[], day("2026-11-22")).unwrap();
        assert_eq!(
            render_text("{{ root }}/rfm/as_of={{ as_of }}/", &p).unwrap(),
            "s3://b/crm/rfm/as_of=2026-11-22/"
        );
    }
}
