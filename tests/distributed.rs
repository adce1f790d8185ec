//! The bundled pipeline on Ballista's standalone cluster (a scheduler and an
//! executor in the loyalty process, talking gRPC over localhost) gives the
//! same output tables as the local engine. Built only with the `distributed`
//! feature: `cargo test --features distributed --test distributed`.
#![cfg(feature = "distributed")]

mod common;

use common::*;

#[test]
fn bundled_pipeline_on_a_standalone_ballista_cluster_matches_the_local_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sample_data(tmp.path(), &data, 2_000, 7);
    let pipeline = bundle_copy(tmp.path());
    // Each task gets one partition, as on a cluster busy with other steps
    // (the local run leaves Ballista's settings aside).
    let mut yaml = std::fs::read_to_string(&pipeline).unwrap();
    yaml.push_str("\nengine:\n  options:\n    ballista.scheduler.max_partitions_per_task: 1\n");
    std::fs::write(&pipeline, yaml).unwrap();

    let local = tmp.path().join("out-local");
    let o = run_pipeline(tmp.path(), &pipeline, "2026-06-30", &data, &local, &[]);
    assert_exit(&o, 0);

    let cluster = tmp.path().join("out-ballista");
    let o = run_pipeline(
        tmp.path(),
        &pipeline,
        "2026-06-30",
        &data,
        &cluster,
        &["--engine", "standalone"],
    );
    assert_exit(&o, 0);

    // Steps other steps read went to the executors as Parquet, not memory.
    let results = read_json(&cluster.join("run_results.json"));
    assert_eq!(results["status"], "success");
    assert_eq!(
        step_result(&results, "customer_orders")["materialize"],
        "parquet"
    );
    assert!(!cluster.join("_scratch").exists(), "scratch files removed");

    let tables: Vec<_> = std::fs::read_dir(local.join("tables"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(tables.len(), 16, "every output table of the pipeline");
    for table in tables {
        let dir = |root: &std::path::Path| root.join("tables").join(&table);
        let local_rows = read_parquet_dir(&dir(&local));
        assert!(rows(&local_rows) > 0, "{table:?} has rows");
        assert_same_table(
            &local_rows,
            &read_parquet_dir(&dir(&cluster)),
            &table.to_string_lossy(),
        );
    }
    // The reports are rendered from the same numbers, rows in the same order
    // (the out_root param they list aside).
    let report = |out: &std::path::Path| {
        std::fs::read_to_string(out.join("report.md"))
            .unwrap()
            .replace(out.to_str().unwrap(), "OUT")
    };
    assert_eq!(report(&local), report(&cluster));
}

/// Steps built on UNION ALL give the hand-worked answer on the cluster.
/// Ballista 55's adaptive planner, which loyalty turns off, got both wrong:
/// each ranked branch came back twice (three times on a busy executor), and
/// the ORDER BY over the totals failed on the scheduler, which then waited
/// forever (the step timeout turns that into a failure here).
#[test]
fn union_all_steps_give_the_hand_worked_answer_on_a_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let day = "2026-06-01 10:00:00";
    // Two files, so the orders come in more than one partition.
    write_parquet(
        &tmp.path().join("data/orders/part-0.parquet"),
        &orders_batch(&[
            (1, 1, day, 10.0, "completed"),
            (2, 1, day, 50.0, "completed"),
            (3, 2, day, 30.0, "cancelled"),
            (4, 2, day, 20.0, "completed"),
            (5, 3, day, 70.0, "returned"),
        ]),
    );
    write_parquet(
        &tmp.path().join("data/orders/part-1.parquet"),
        &orders_batch(&[
            (6, 3, day, 40.0, "completed"),
            (7, 4, day, 60.0, "cancelled"),
            (8, 4, day, 90.0, "completed"),
            (9, 5, day, 80.0, "completed"),
            (10, 5, day, 15.0, "cancelled"),
        ]),
    );
    let p = tmp.path().join("p.yaml");
    std::fs::write(
        &p,
        r#"name: t
params:
  out: { type: string }
output_root: "{{ out }}"
sources:
  orders: data/orders/
engine:
  step_timeout: 2m
  options:
    # Each task gets one partition, as on a cluster busy with other steps.
    ballista.scheduler.max_partitions_per_task: 1
steps:
  ranked:
    sql: |
      SELECT 'bought' AS kind, order_id, ROW_NUMBER() OVER (ORDER BY amount DESC) AS rank
      FROM orders WHERE status = 'completed'
      UNION ALL
      SELECT 'other' AS kind, order_id, ROW_NUMBER() OVER (ORDER BY amount) AS rank
      FROM orders WHERE status <> 'completed'
    materialize: memory
  totals:
    sql: |
      SELECT 'bought' AS kind, SUM(amount) AS amount, COUNT(*) AS orders
      FROM orders WHERE status = 'completed'
      UNION ALL
      SELECT 'other', SUM(amount), COUNT(*) FROM orders WHERE status <> 'completed'
      ORDER BY kind
outputs:
  - { step: ranked, path: ranked.csv, format: csv, sort_by: [kind, rank] }
  - { step: totals, path: totals.csv, format: csv }
"#,
    )
    .unwrap();
    // Bought, by amount from the largest: 8 (90), 9 (80), 2 (50), 6 (40),
    // 4 (20), 1 (10); the others from the smallest: 10 (15), 3 (30), 7 (60),
    // 5 (70). Totals: 10 + 50 + 20 + 40 + 90 + 80 = 290 over 6 orders, and
    // 30 + 70 + 60 + 15 = 175 over 4.
    let ranked = "kind,order_id,rank\nbought,8,1\nbought,9,2\nbought,2,3\nbought,6,4\n\
                  bought,4,5\nbought,1,6\nother,10,1\nother,3,2\nother,7,3\nother,5,4\n";
    let totals = "kind,amount,orders\nbought,290.0,6\nother,175.0,4\n";
    for (out, engine) in [("out-local", "local"), ("out-cluster", "standalone")] {
        let o = loyalty(
            tmp.path(),
            &[
                "run",
                p.to_str().unwrap(),
                "--param",
                &format!("out={out}"),
                "--engine",
                engine,
            ],
        );
        assert_exit(&o, 0);
        let read = |f: &str| std::fs::read_to_string(tmp.path().join(out).join(f)).unwrap();
        assert_eq!(read("ranked.csv"), ranked, "{engine}");
        assert_eq!(read("totals.csv"), totals, "{engine}");
    }
}

#[test]
fn validate_refuses_a_local_only_function_for_a_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    write_parquet(
        &tmp.path().join("data/customers/part-0.parquet"),
        &customers_batch(&[1, 2, 2]),
    );
    let yaml = |engine: &str| {
        format!(
            "name: t
sources:
  customers: data/customers/
engine: {engine}
steps:
  repeats:
    sql: SELECT count_repeats(customer_id) AS n FROM customers
"
        )
    };
    let p = tmp.path().join("p.yaml");
    std::fs::write(&p, yaml("{ kind: local }")).unwrap();
    assert_exit(&loyalty(tmp.path(), &["validate", p.to_str().unwrap()]), 0);

    // Ballista's executors do not have `count_repeats`: validate says so
    // before a run would fail on the cluster.
    std::fs::write(&p, yaml("{ kind: ballista, url: standalone }")).unwrap();
    let o = loyalty(tmp.path(), &["validate", p.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("step `repeats`") && err.contains("count_repeats"),
        "{err}"
    );
}

#[test]
fn an_unreachable_scheduler_is_named_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    write_parquet(
        &tmp.path().join("data/customers/part-0.parquet"),
        &customers_batch(&[1, 2]),
    );
    let p = tmp.path().join("p.yaml");
    std::fs::write(
        &p,
        "name: t
sources:
  customers: data/customers/
steps:
  n:
    sql: SELECT COUNT(*) AS n FROM customers
outputs:
  - step: n
    path: n.csv
    format: csv
",
    )
    .unwrap();
    // A port nobody listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("df://127.0.0.1:{port}");
    let o = loyalty(tmp.path(), &["run", p.to_str().unwrap(), "--engine", &url]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "cannot reach the Ballista scheduler `{url}`: 127.0.0.1:{port}: Connection refused"
        )),
        "{err}"
    );
    assert!(!err.contains("step `n`"), "no step ran: {err}");
    assert!(!tmp.path().join("out").exists(), "nothing written");
}

/// A step given up on (`engine.step_timeout`) has its job cancelled on the
/// cluster, which frees the executor for what comes next. The cluster is a
/// scheduler and an executor started here as the released binaries run them
/// (push-staged, so that the scheduler can reach the executor to stop its
/// tasks), with one task slot. The step reads a file over HTTP whose data
/// never comes, so its task holds that slot until it is stopped.
#[test]
fn a_step_given_up_on_has_its_job_cancelled_and_frees_the_executor() {
    use ballista_core::config::TaskSchedulingPolicy;
    use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
    use ballista_core::serde::protobuf::{GetJobStatusParams, job_status};
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    use ballista_scheduler::scheduler_process::start_server;
    use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
    use std::sync::Arc;

    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<i64> = (1..=3000).collect();
    for dir in ["www", "data/customers"] {
        write_parquet(
            &tmp.path().join(dir).join("customers.parquet"),
            &customers_batch(&ids),
        );
    }
    let base = serve_files_stalling_data_reads(&tmp.path().join("www"));
    // The scheduler and the executor read `base` over HTTP, waiting as long
    // as it takes (loyalty's own timeouts do not reach them).
    let with_http = {
        let base = base.clone();
        move |runtime: &RuntimeEnv| {
            let client = object_store::ClientOptions::new()
                .with_allow_http(true)
                .with_timeout_disabled();
            let store = object_store::http::HttpBuilder::new()
                .with_url(&base)
                .with_client_options(client)
                .build()
                .unwrap();
            runtime.register_object_store(&url::Url::parse(&base).unwrap(), Arc::new(store));
        }
    };
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (scheduler_port, flight_port, grpc_port) = (free_port(), free_port(), free_port());
    let cluster = tokio::runtime::Runtime::new().unwrap();
    let scheduler_http = with_http.clone();
    let config = SchedulerConfig {
        bind_port: scheduler_port,
        scheduling_policy: TaskSchedulingPolicy::PushStaged,
        ..Default::default()
    }
    .with_override_session_builder(Arc::new(move |config| {
        let state = ballista_core::utils::default_session_builder(config)?;
        scheduler_http(state.runtime_env());
        Ok(state)
    }));
    cluster.spawn(async move {
        let state = BallistaCluster::new_from_config(&config).await.unwrap();
        let address = format!("127.0.0.1:{scheduler_port}").parse().unwrap();
        start_server(state, address, Arc::new(config)).await
    });
    let work_dir = tmp.path().join("executor");
    std::fs::create_dir_all(&work_dir).unwrap();
    cluster.spawn(start_executor_process(Arc::new(ExecutorProcessConfig {
        port: flight_port,
        grpc_port,
        external_host: Some("127.0.0.1".into()),
        scheduler_host: "127.0.0.1".into(),
        scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: 1,
        task_scheduling_policy: TaskSchedulingPolicy::PushStaged,
        work_dir: Some(work_dir.to_str().unwrap().into()),
        override_runtime_producer: Some(Arc::new(move |_| {
            let runtime = RuntimeEnvBuilder::new().build()?;
            with_http(&runtime);
            Ok(Arc::new(runtime))
        })),
        ..Default::default()
    })));

    let pipeline = |name: &str, source: &str, timeout: &str| {
        let p = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(
            &p,
            format!(
                "name: {name}
sources:
  customers: {source}
engine:
  step_timeout: {timeout}
steps:
  {name}:
    sql: SELECT COUNT(*) AS n FROM customers WHERE customer_id > 1000
outputs:
  - {{ step: {name}, path: {name}.csv, format: csv }}
"
            ),
        )
        .unwrap();
        p
    };
    let engine = format!("df://127.0.0.1:{scheduler_port}");
    let run = |p: &std::path::Path| {
        loyalty(
            tmp.path(),
            &["run", p.to_str().unwrap(), "--engine", &engine],
        )
    };

    let o = run(&pipeline(
        "stalled",
        &format!("{base}/customers.parquet"),
        "8s",
    ));
    assert_exit(&o, 1);
    let results = read_json(&tmp.path().join("out/run_results.json"));
    let message = step_result(&results, "stalled")["message"]
        .as_str()
        .unwrap()
        .to_string();
    let job = message
        .split("its Ballista job `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("the message names the job: {message}\n{}", stderr(&o)));
    assert!(
        message.contains(&format!(
            "did not finish within 8s (`engine.step_timeout`); its Ballista job `{job}` was cancelled"
        )),
        "{message}"
    );

    // The scheduler, asked here, has the job as failed, not running.
    let status = cluster.block_on(async {
        let url = format!("http://127.0.0.1:{scheduler_port}");
        let mut scheduler = SchedulerGrpcClient::connect(url).await.unwrap();
        let asked = GetJobStatusParams {
            job_id: job.to_string(),
        };
        let answer = scheduler.get_job_status(asked).await.unwrap();
        answer.into_inner().status.and_then(|s| s.status)
    });
    assert!(
        matches!(status, Some(job_status::Status::Failed(_))),
        "job `{job}`: {status:?}"
    );

    // The executor's one slot is free again: the same query over a local
    // copy runs (it would wait for the slot past its limit otherwise).
    let o = run(&pipeline("quick", "data/customers/", "60s"));
    assert_exit(&o, 0);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/quick.csv")).unwrap(),
        "n\n2000\n"
    );
}
