//! SDK interceptors on the DynamoDB client: [`CallCounter`] counts the requests actually sent
//! (every attempt, retries included) for benchmarks and call-budget tests; [`CallRecorder`]
//! records the IAM action each needs, for the permission test.

use aws_sdk_dynamodb::config::{
    interceptors::BeforeTransmitInterceptorContextRef, ConfigBag, Intercept, RuntimeComponents,
};
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<AtomicU64>);

impl CallCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Returns the count and starts again from zero.
    pub fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A client for `endpoint` (DynamoDB Local) with static local credentials, the timeouts and retries
/// of `tuning` (as the functions' clients have them), and the counter attached (and the recorder,
/// when given).
pub fn local_client(
    endpoint: &str,
    tuning: &super::Tuning,
    counter: &CallCounter,
    recorder: Option<CallRecorder>,
) -> aws_sdk_dynamodb::Client {
    let mut conf = tuning
        .apply(aws_sdk_dynamodb::Config::builder())
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local"))
        .endpoint_url(endpoint)
        .interceptor(counter.clone());
    if let Some(recorder) = recorder {
        conf = conf.interceptor(recorder);
    }
    aws_sdk_dynamodb::Client::from_conf(conf.build())
}

/// The variable naming the folder where [`CallRecorder`] writes (unset in AWS: nothing recorded).
pub const CALL_LOG_VAR: &str = "DYNAMODB_CALL_LOG";

/// Records the IAM actions that every DynamoDB request really needs, per caller, so that the
/// permissions in `infra/template.yaml` can be proven against the calls the code makes
/// (`cargo run -p habit-tests --bin permissions`). Each distinct (caller, operation, action,
/// resource) is appended once per process to `<dir>/<caller>-<pid>.jsonl`.
#[derive(Debug, Clone)]
pub struct CallRecorder {
    caller: String,
    table: String,
    file: std::path::PathBuf,
}

/// The lines this process has written, by file: each once, one writer at a time (test processes
/// run many worlds on many threads).
fn written() -> &'static std::sync::Mutex<std::collections::HashSet<(std::path::PathBuf, String)>> {
    static WRITTEN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<(std::path::PathBuf, String)>>> =
        std::sync::OnceLock::new();
    WRITTEN.get_or_init(Default::default)
}

impl CallRecorder {
    /// A recorder for `caller` (a function's binary name) whose own table is `table` (recorded as
    /// `Table`, the template's logical name), writing into `dir`.
    pub fn new(dir: &std::path::Path, caller: &str, table: &str) -> Self {
        let file = dir.join(format!("{}-{}.jsonl", caller.replace(' ', "_"), std::process::id()));
        CallRecorder { caller: caller.to_owned(), table: table.to_owned(), file }
    }

    /// The recorder the environment asks for ([`CALL_LOG_VAR`] set), the caller named by the
    /// running binary.
    pub fn from_env(table: &str) -> Option<Self> {
        let exe = std::env::current_exe().ok()?;
        Self::from_env_as(exe.file_stem()?.to_str()?, table)
    }

    /// The recorder the environment asks for, for `caller`.
    pub fn from_env_as(caller: &str, table: &str) -> Option<Self> {
        let dir = std::env::var_os(CALL_LOG_VAR).filter(|d| !d.is_empty())?;
        Some(CallRecorder::new(std::path::Path::new(&dir), caller, table))
    }

    fn resource(&self, table: &str, index: Option<&str>) -> String {
        let table = if table == self.table { "Table".to_owned() } else { format!("table/{table}") };
        match index {
            Some(index) => format!("{table}/index/{index}"),
            None => table,
        }
    }

    fn record(&self, operation: &str, body: &serde_json::Value) -> std::io::Result<()> {
        use std::io::Write;
        for (action, table, index) in iam_actions(operation, body) {
            let line = serde_json::json!({
                "caller": self.caller,
                "operation": operation,
                "action": format!("dynamodb:{action}"),
                "resource": table.map_or_else(|| "*".to_owned(), |t| self.resource(&t, index.as_deref())),
            })
            .to_string()
                + "\n";
            let mut written = written().lock().unwrap_or_else(|e| e.into_inner());
            if written.insert((self.file.clone(), line.clone())) {
                if let Some(dir) = self.file.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.file)?;
                f.write_all(line.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// The IAM actions a DynamoDB request needs: `(action, table, index)` for each, from the
/// operation (`X-Amz-Target`) and its JSON body. A transaction needs the action of each of its
/// items (Put → PutItem, Update → UpdateItem, Delete → DeleteItem, ConditionCheck →
/// ConditionCheckItem, Get → GetItem) on that item's table; a batch needs its own action on every
/// table it names; a request without a table (ListTables) needs its action on `*`.
pub fn iam_actions(operation: &str, body: &serde_json::Value) -> Vec<(String, Option<String>, Option<String>)> {
    let table_of = |v: &serde_json::Value| v.get("TableName").and_then(|t| t.as_str()).map(str::to_owned);
    match operation {
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_object()?.iter().next())
            .map(|(kind, spec)| {
                let action = match kind.as_str() {
                    "ConditionCheck" => "ConditionCheckItem".to_owned(),
                    other => format!("{other}Item"),
                };
                (action, table_of(spec), None)
            })
            .collect(),
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(table, _)| (operation.to_owned(), Some(table.clone()), None))
            .collect(),
        _ => {
            let index = body.get("IndexName").and_then(|i| i.as_str()).map(str::to_owned);
            vec![(operation.to_owned(), table_of(body), index)]
        }
    }
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "CallRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        let operation = request.headers().get("x-amz-target").and_then(|t| t.rsplit('.').next()).unwrap_or("unknown");
        let body = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
        // Recording serves the tests; a failure to write must never fail the request itself.
        if let Err(e) = self.record(operation, &body) {
            tracing::warn!(error = %e, "could not record a DynamoDB call");
        }
        Ok(())
    }
}
