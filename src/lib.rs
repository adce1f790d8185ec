//! `loyalty`: customer-loyalty analytics as YAML pipelines of DataFusion SQL
//! over Parquet, rendered as management reports.

pub mod bundle;
pub mod checks;
pub mod cli;
pub mod engine;
pub mod error;
pub mod manifest;
pub mod params;
pub mod plan;
pub mod progress;
pub mod publish;
pub mod report;
pub mod rows;
pub mod run;
pub mod sample;
pub mod secrets;
pub mod show;
pub mod spec;
pub mod storage;
pub mod text;
