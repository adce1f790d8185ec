//! loyalty on Apache DataFusion Ballista: the bundled pipeline gives the
//! same output tables on a cluster as on the local engine, UNION ALL steps
//! give the hand-worked answers, and what a cluster cannot do is refused or
//! cleaned up. The clusters run in the test process and talk gRPC over
//! localhost. Built only with the `distributed` feature:
//! `cargo test --features distributed --test distributed`.
#![cfg(feature = "distributed")]

mod common;

use common::*;

/// On Ballista's standalone cluster (in the loyalty process, its executor
/// with loyalty's functions) and on one run as the released binaries run
/// (its executor with Ballista's own functions only, which lack the array
/// functions: the bundled SQL once called `range` and failed there).
#[test]
fn bundled_pipeline_on_ballista_clusters_matches_the_local_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sample_data(tmp.path(), &data, 2_000, 7);
    // The orders in two files, every other row in each: scans have two
    // partitions, and most customers' orders are in both, as at scale (one
    // file of this size is read as one partition). Their timestamps are UTC
    // instants, read as Berlin's clock (`timezone` below; its daylight
    // saving gives the data's years several offsets, which the executors
    // choose by comparisons in the view's SQL and the local engine looks up
    // in its table): both give the same times.
    let orders = data.join("orders");
    let batches = read_parquet(&orders);
    let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let all = {
        use arrow::array::{Array, TimestampMicrosecondArray};
        let schema = all.schema();
        let (i, field) = schema.column_with_name("order_ts").unwrap();
        let zoned = all
            .column(i)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap()
            .clone()
            .with_timezone("UTC");
        let mut fields: Vec<arrow::datatypes::Field> =
            schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[i] = field
            .as_ref()
            .clone()
            .with_data_type(zoned.data_type().clone());
        let mut columns = all.columns().to_vec();
        columns[i] = std::sync::Arc::new(zoned);
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(fields));
        arrow::array::RecordBatch::try_new(schema, columns).unwrap()
    };
    for (i, part) in [0, 1].into_iter().enumerate() {
        let rows: arrow::array::BooleanArray =
            (0..all.num_rows()).map(|r| Some(r % 2 == part)).collect();
        let half = arrow::compute::filter_record_batch(&all, &rows).unwrap();
        write_parquet(&orders.join(format!("part-{i}.parquet")), &half);
    }
    let pipeline = bundle_copy(tmp.path());
    // Each task gets one partition, as on a cluster busy with other steps
    // (the local run leaves Ballista's settings aside).
    let mut yaml = std::fs::read_to_string(&pipeline).unwrap();
    yaml.push_str("\nengine:\n  options:\n    ballista.scheduler.max_partitions_per_task: 1\n");
    yaml.push_str("timezone: Europe/Berlin\n");
    // The surveys' timestamps, written without a zone, declared UTC: read as
    // Berlin's clock too.
    let yaml = yaml.replace("  surveys:\n", "  surveys:\n    naive_timestamps: utc\n");
    assert!(yaml.contains("naive_timestamps"));
    std::fs::write(&pipeline, yaml).unwrap();

    let local = tmp.path().join("out-local");
    let o = run_pipeline(tmp.path(), &pipeline, "2026-06-30", &data, &local, &[]);
    assert_exit(&o, 0);
    assert_eq!(
        read_json(&local.join("run_results.json"))["timezone"],
        "Europe/Berlin"
    );
    // The reports are rendered from the same numbers, rows in the same order
    // (the out_root param they list aside).
    let report = |out: &std::path::Path| {
        std::fs::read_to_string(out.join("report.md"))
            .unwrap()
            .replace(out.to_str().unwrap(), "OUT")
    };

    let (_released, port) = start_cluster(tmp.path(), Vec::new());
    let released = format!("df://127.0.0.1:{port}");
    for (name, engine) in [
        ("standalone", "standalone"),
        ("released", released.as_str()),
    ] {
        let out = tmp.path().join(format!("out-{name}"));
        // With the engine's debug log, which says where filters on the
        // converted timestamps were widened before the plan was sent.
        let o = run_pipeline_logging(
            tmp.path(),
            &pipeline,
            "2026-06-30",
            &data,
            &out,
            &["--engine", engine],
            Some("warn,loyalty::engine::local_time=debug"),
        );
        assert_exit(&o, 0);
        // The orders up to as_of (up to 3 July on the stored instants: two
        // days later), the satisfaction funnel's orders from 2 April 2025 (31
        // March: the answers it follows start 90 + 365 days before as_of), and the surveys dated up to as_of (`CAST(survey_ts AS DATE)
        // <= as_of`: up to 2 July).
        let log = stderr(&o);
        for bound in [
            "__loyalty_raw_orders.order_ts <= TimestampMicrosecond(1783036800000000",
            "__loyalty_raw_orders.order_ts >= TimestampMicrosecond(1743379200000000",
            "__loyalty_raw_surveys.survey_ts <= TimestampMicrosecond(1782950400000000",
        ] {
            let widened = |l: &&str| l.contains("bounds on converted timestamps widened");
            assert!(
                log.lines().filter(widened).any(|l| l.contains(bound)),
                "{bound}\n{log}"
            );
        }

        // Steps other steps read went to the executors as Parquet, not memory.
        let results = read_json(&out.join("run_results.json"));
        assert_eq!(results["status"], "success");
        assert_eq!(
            step_result(&results, "customer_orders")["materialize"],
            "parquet"
        );
        assert!(!out.join("_scratch").exists(), "scratch files removed");
        assert_same_outputs(&local, &out, name, &[]);
        assert_eq!(report(&local), report(&out), "{name}");
    }
}

/// With S3 as the shared storage, as a cluster usually runs: the sources in
/// a bucket (moto's), the steps other steps read written there as Parquet
/// for the executors to read, and the outputs and reports published there.
/// loyalty reaches the bucket through the standard `AWS_*` variables; the
/// scheduler and the executor through the store they are given.
#[test]
fn bundled_pipeline_on_a_cluster_with_s3_storage_matches_the_local_engine() {
    use object_store::ObjectStoreExt;
    use object_store::path::Path as ObjectPath;

    let Some(bin) = common::moto::moto_server() else {
        return;
    };
    let moto = common::moto::Moto::start(&bin);
    moto.create_bucket("crm");
    let endpoint = moto.endpoint();
    let s3 = common::moto::store(&endpoint, "crm");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sample_data(tmp.path(), &data, 1_000, 11);
    let (cluster, port) = start_cluster(tmp.path(), vec![("s3://crm".into(), s3.clone())]);
    cluster.block_on(common::moto::upload_dir(&endpoint, "crm", &data, "data"));

    let local = tmp.path().join("out-local");
    let pipeline = bundled_pipeline();
    let o = run_pipeline(tmp.path(), &pipeline, "2026-06-30", &data, &local, &[]);
    assert_exit(&o, 0);

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.args(["run", pipeline.to_str().unwrap(), "--as-of", "2026-06-30"])
        .args(["--param", "data_root=s3://crm/data"])
        .args(["--param", "out_root=s3://crm/out"])
        .args(["--engine", &format!("df://127.0.0.1:{port}")])
        .current_dir(tmp.path());
    common::moto::aws_env(&mut cmd, &endpoint);
    let o = cmd.output().unwrap();
    assert_exit(&o, 0);

    // Everything in the bucket under out/, copied here.
    let out = tmp.path().join("out-s3");
    let keys: Vec<String> = cluster.block_on(async {
        use futures::StreamExt;
        s3.list(Some(&ObjectPath::from("out")))
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await
    });
    for key in &keys {
        let bytes = cluster.block_on(async {
            s3.get(&ObjectPath::from(key.as_str()))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        });
        let path = out.join(key.strip_prefix("out/").unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    assert!(
        keys.iter()
            .all(|k| !k.contains("_staging") && !k.contains("_scratch")),
        "nothing staged or scratch left: {keys:?}"
    );
    let results = read_json(&out.join("run_results.json"));
    assert_eq!(results["status"], "success");
    assert_eq!(
        step_result(&results, "customer_orders")["materialize"],
        "parquet",
        "read by the executors from the bucket"
    );
    assert_same_outputs(&local, &out, "the cluster over S3", &[]);
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
    let p = pipeline_file(
        tmp.path(),
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
    );
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
    // `show` computes `ranked` on the cluster (as Parquet under the output
    // root, which it then removes) and the query of it here.
    let o = loyalty(
        tmp.path(),
        &[
            "show",
            p.to_str().unwrap(),
            "--sql",
            "SELECT kind, COUNT(*) AS orders, MAX(rank) AS last FROM ranked GROUP BY kind ORDER BY kind",
            "--param",
            "out=out-show",
            "--engine",
            "standalone",
            "--format",
            "csv",
        ],
    );
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "kind,orders,last\nbought,6,6\nother,4,4\n");
    assert!(!tmp.path().join("out-show").exists());
}

/// Ballista's released executors have neither loyalty's `count_repeats`
/// nor DataFusion's array functions (`range`): for a pipeline that runs on a
/// cluster, validate names each step that calls one, and a run fails those
/// steps when planning them, not on the executors.
#[test]
fn functions_executors_lack_are_refused_for_a_cluster() {
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
  ranged:
    sql: SELECT unnest(range(1, 4)) AS k
  counted:
    sql: SELECT COUNT(*) AS n FROM customers
"
        )
    };
    let p = pipeline_file(tmp.path(), &yaml("{ kind: local }"));
    assert_exit(&loyalty(tmp.path(), &["validate", p.to_str().unwrap()]), 0);

    std::fs::write(&p, yaml("{ kind: ballista, url: standalone }")).unwrap();
    // `validate` finds both, and so does `run` as it plans the steps,
    // before any computes.
    for command in ["validate", "run"] {
        let o = loyalty(tmp.path(), &[command, p.to_str().unwrap()]);
        assert_exit(&o, 2);
        let err = stderr(&o);
        let hint = "Ballista's executors do not have DataFusion's array functions";
        for (step, function) in [("repeats", "count_repeats"), ("ranged", "range")] {
            let line = err
                .lines()
                .position(|l| l.contains(&format!("step `{step}`")))
                .unwrap_or_else(|| panic!("{command}: step `{step}` named: {err}"));
            // DataFusion's message takes two lines ("Did you mean …?").
            let said = err.lines().skip(line).take(2).collect::<Vec<_>>().join(" ");
            assert!(
                said.contains(&format!("'{function}'")) && said.contains(hint),
                "{command}: {said}"
            );
        }
        assert!(!err.contains("step `counted`"), "{command}: {err}");
        assert!(!err.contains("step started"), "{command}: {err}");
    }
    assert_no_step_ran(&tmp.path().join("out"));
}

#[test]
fn an_unreachable_scheduler_is_named_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    write_parquet(
        &tmp.path().join("data/customers/part-0.parquet"),
        &customers_batch(&[1, 2]),
    );
    let p = pipeline_file(
        tmp.path(),
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
    );
    let port = free_port();
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
/// cluster, which frees the executor for what comes next; so does a run
/// stopped by SIGTERM. On the cluster of [`start_cluster`] (push-staged, so
/// that the scheduler can reach the executor to stop its tasks; one task
/// slot), the step reads a file over HTTP whose data never comes, so its
/// task holds that slot until stopped.
#[test]
fn jobs_of_a_step_given_up_on_or_a_stopped_run_are_cancelled() {
    use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
    use ballista_core::serde::protobuf::{GetJobStatusParams, job_status};

    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<i64> = (1..=3000).collect();
    let stalling = stalling_customers(tmp.path(), &ids);
    let (base, _) = stalling.rsplit_once('/').unwrap();
    write_parquet(
        &tmp.path().join("data/customers/customers.parquet"),
        &customers_batch(&ids),
    );
    let (cluster, scheduler_port) = start_cluster(tmp.path(), vec![http_store(base)]);
    // `limit`: the step_timeout, if any.
    let pipeline = |name: &str, source: &str, limit: Option<&str>| {
        let p = tmp.path().join(format!("{name}.yaml"));
        let engine = limit.map_or(String::new(), |l| format!("engine:\n  step_timeout: {l}\n"));
        std::fs::write(
            &p,
            format!(
                "name: {name}
sources:
  customers: {source}
{engine}steps:
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

    let o = run(&pipeline("stalled", &stalling, Some("8s")));
    assert_exit(&o, 1);
    let results = read_json(&tmp.path().join("out/run_results.json"));
    let message = step_result(&results, "stalled")["message"]
        .as_str()
        .unwrap()
        .to_string();
    let job = job_named(&message, "its Ballista job `")
        .unwrap_or_else(|| panic!("the message names the job: {message}\n{}", stderr(&o)));
    assert!(
        message.contains(&format!(
            "did not finish within 8s (`engine.step_timeout`); its Ballista job `{job}` was cancelled"
        )),
        "{message}"
    );

    // The scheduler, asked here, has the job as failed, not running.
    let status = |job: &str| {
        cluster.block_on(async {
            let url = format!("http://127.0.0.1:{scheduler_port}");
            let mut scheduler = SchedulerGrpcClient::connect(url).await.unwrap();
            let asked = GetJobStatusParams {
                job_id: job.to_string(),
            };
            let answer = scheduler.get_job_status(asked).await.unwrap();
            answer.into_inner().status.and_then(|s| s.status)
        })
    };
    let failed = |job: &str| matches!(status(job), Some(job_status::Status::Failed(_)));
    assert!(failed(job), "job `{job}`: {:?}", status(job));

    // The executor's one slot is free again: the same query over a local
    // copy runs (it would wait for the slot past its limit otherwise).
    let o = run(&pipeline("quick", "data/customers/", Some("60s")));
    assert_exit(&o, 0);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out/quick.csv")).unwrap(),
        "n\n2000\n"
    );

    // A run stopped by SIGTERM (a scheduler stopping the task) cancels its
    // job too, with no step_timeout set: sent once the job's task has begun
    // to read the file. The job never reports progress (its one task waits
    // for the file), so only asking the scheduler (pull) gives its id.
    let stalled = pipeline("stalled", &stalling, None);
    forget_stalled_reads(tmp.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["run", stalled.to_str().unwrap(), "--engine", &engine])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = std::io::BufReader::new(child.stderr.take().unwrap());
    wait_for_stalled_read(tmp.path());
    // The client learns the job's id when it reads the scheduler's answer to
    // the submission; on a loaded machine the executor's task can start
    // reading before that. A job whose id the client never learned cannot be
    // named (README, "Running on a Ballista cluster").
    std::thread::sleep(std::time::Duration::from_secs(2));
    send_signal(&child, "TERM");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut log, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143), "{rest}");
    let said = "interrupted by SIGTERM: the run stopped and published nothing; \
                its Ballista job `";
    let job = job_named(&rest, said).unwrap_or_else(|| panic!("the error names the job: {rest}"));
    assert!(failed(job), "job `{job}`: {:?}", status(job));
}

/// The job id between `before` and the next backtick in `text`.
fn job_named<'a>(text: &'a str, before: &str) -> Option<&'a str> {
    text.split(before).nth(1)?.split('`').next()
}

/// Object stores a test cluster reaches, by URL.
type Stores = Vec<(String, std::sync::Arc<dyn object_store::ObjectStore>)>;

/// `base` over HTTP, waiting as long as it takes.
fn http_store(base: &str) -> (String, std::sync::Arc<dyn object_store::ObjectStore>) {
    let client = object_store::ClientOptions::new()
        .with_allow_http(true)
        .with_timeout_disabled();
    let store = object_store::http::HttpBuilder::new()
        .with_url(base)
        .with_client_options(client)
        .build()
        .unwrap();
    (base.to_string(), std::sync::Arc::new(store))
}

/// A scheduler and an executor with one task slot, started in this process
/// as the released `ballista-scheduler` and `ballista-executor` binaries run
/// them: tasks pushed to the executor, which has Ballista's own functions
/// (not loyalty's). Both also reach each of `stores` at its URL (the
/// released binaries build an S3 store from the `AWS_*` variables).
/// Returns the runtime they run on (the cluster stops when it is dropped)
/// and the scheduler's port.
fn start_cluster(work: &std::path::Path, stores: Stores) -> (tokio::runtime::Runtime, u16) {
    use ballista_core::config::TaskSchedulingPolicy::PushStaged;
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
    use std::sync::Arc;

    let with_stores = move |runtime: &RuntimeEnv| {
        for (url, store) in &stores {
            runtime.register_object_store(&url::Url::parse(url).unwrap(), store.clone());
        }
    };
    let (scheduler_port, flight_port, grpc_port) = (free_port(), free_port(), free_port());
    // A debug build decoding the bundled pipeline's plans needs more than
    // tokio's 2 MiB of stack.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 << 20)
        .build()
        .unwrap();
    let scheduler_stores = with_stores.clone();
    let config = SchedulerConfig {
        bind_port: scheduler_port,
        scheduling_policy: PushStaged,
        ..Default::default()
    }
    .with_override_session_builder(Arc::new(move |config| {
        let state = ballista_core::utils::default_session_builder(config)?;
        scheduler_stores(state.runtime_env());
        Ok(state)
    }));
    runtime.spawn(async move {
        let state = BallistaCluster::new_from_config(&config).await.unwrap();
        let address = format!("127.0.0.1:{scheduler_port}").parse().unwrap();
        ballista_scheduler::scheduler_process::start_server(state, address, Arc::new(config)).await
    });
    let work_dir = work.join("executor");
    std::fs::create_dir_all(&work_dir).unwrap();
    runtime.spawn(start_executor_process(Arc::new(ExecutorProcessConfig {
        port: flight_port,
        grpc_port,
        external_host: Some("127.0.0.1".into()),
        scheduler_host: "127.0.0.1".into(),
        scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: 1,
        task_scheduling_policy: PushStaged,
        work_dir: Some(work_dir.to_str().unwrap().into()),
        override_runtime_producer: Some(Arc::new(move |_| {
            let runtime = RuntimeEnvBuilder::new().build()?;
            with_stores(&runtime);
            Ok(Arc::new(runtime))
        })),
        ..Default::default()
    })));
    // The servers start in the background: a run sent before the scheduler
    // listens is refused ("cannot reach the Ballista scheduler"), and one
    // sent before the executor can take tasks waits for it.
    wait_for_port(scheduler_port, "the scheduler");
    wait_for_port(grpc_port, "the executor");
    (runtime, scheduler_port)
}
