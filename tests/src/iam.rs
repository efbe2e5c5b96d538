//! Permissions proven by the calls themselves. DynamoDB Local ignores IAM, so the project records
//! every DynamoDB request its functions and tools really make (`DYNAMODB_CALL_LOG`, see
//! `shared::storage::counter::CallRecorder`) and evaluates each against the caller's policy:
//! the function's `Policies` in `infra/template.yaml`, or for the `habit-admin` operator tool
//! its documented `infra/habit-admin-policy.json`. Both ways: a call its policy does not allow
//! fails, and so does a grant no recorded call needed (least privilege).

use serde::Deserialize;
use serde_yaml::Value as Y;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One recorded need: `caller` made `operation`, which needs `action` on `resource` (`Table`,
/// `Table/index/GSI1`, `table/<another table>` or `*`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct Call {
    pub caller: String,
    pub operation: String,
    pub action: String,
    pub resource: String,
}

/// One policy statement, resources in the recorder's names (`Table`, `Table/index/GSI1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// `*` and `?` as IAM matches them.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

impl Statement {
    fn matches(&self, action: &str, resource: &str) -> bool {
        self.actions.iter().any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && self.resources.iter().any(|r| glob(r, resource))
    }
}

/// Whether `statements` allow `action` on `resource` (an explicit deny wins).
pub fn allowed(statements: &[Statement], action: &str, resource: &str) -> bool {
    statements.iter().any(|s| s.allow && s.matches(action, resource))
        && !statements.iter().any(|s| !s.allow && s.matches(action, resource))
}

fn one_or_many(v: &Y) -> Vec<&Y> {
    match v {
        Y::Sequence(s) => s.iter().collect(),
        other => vec![other],
    }
}

/// A resource of the template in the recorder's names: `!GetAtt Table.Arn` is `Table`,
/// `!Sub "${Table.Arn}/index/GSI1"` is `Table/index/GSI1`, `!Ref SigningKeys` (a secret's ARN) is
/// `SigningKeys`. Anything else is refused by name, so an unexpected form cannot pass unnoticed.
fn template_resource(v: &Y) -> Result<String, String> {
    if let Y::Tagged(t) = v {
        let tag = t.tag.to_string();
        if let (true, Some(s)) = (tag == "!Ref", t.value.as_str()) {
            return Ok(s.to_owned());
        }
        if let (true, Some(s)) = (tag == "!GetAtt", t.value.as_str()) {
            if let Some(logical) = s.strip_suffix(".Arn") {
                return Ok(logical.to_owned());
            }
            if let Some(logical) = s.strip_suffix(".StreamArn") {
                return Ok(format!("{logical}/stream"));
            }
        }
        if let (true, Some(s)) = (tag == "!Sub", t.value.as_str()) {
            if let Some(rest) = s.strip_prefix("${") {
                if let Some((inner, suffix)) = rest.split_once('}') {
                    if let Some(logical) = inner.strip_suffix(".Arn") {
                        return Ok(format!("{logical}{suffix}"));
                    }
                }
            }
        }
    }
    if let Y::Tagged(t) = v {
        // SES: `!Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:<kind>/<name>"`,
        // named `ses:<kind>/<name>` (a `${X}` in the name kept as `X`).
        let sub = t.value.as_str().filter(|_| t.tag == "!Sub");
        if let Some(rest) =
            sub.and_then(|s| s.strip_prefix("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:"))
        {
            return Ok(format!("ses:{}", rest.replace("${", "").replace('}', "")));
        }
    }
    if v.as_str() == Some("*") {
        return Ok("*".into());
    }
    Err(format!("a resource this check cannot read: {v:?}"))
}

/// The statements of a function's `Policies` (inline statements only: a managed policy or a SAM
/// policy template cannot be evaluated here and is refused by name).
pub fn function_statements(function: &str, f: &Y) -> Result<Vec<Statement>, String> {
    let mut out = Vec::new();
    for p in one_or_many(&f["Properties"]["Policies"]) {
        let Some(statements) = p.get("Statement") else {
            return Err(format!("{function}: a policy this check cannot evaluate (only inline statements): {p:?}"));
        };
        for s in one_or_many(statements) {
            let text = |v: &Y| v.as_str().map(str::to_owned).ok_or_else(|| format!("{function}: not a string: {v:?}"));
            out.push(Statement {
                allow: match s["Effect"].as_str() {
                    Some("Allow") => true,
                    Some("Deny") => false,
                    other => return Err(format!("{function}: statement without a valid Effect: {other:?}")),
                },
                actions: one_or_many(&s["Action"]).into_iter().map(text).collect::<Result<_, _>>()?,
                resources: one_or_many(&s["Resource"])
                    .into_iter()
                    .map(template_resource)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("{function}: {e}"))?,
            });
        }
    }
    if out.is_empty() {
        return Err(format!("{function}: no policy statements"));
    }
    Ok(out)
}

/// The placeholder ARN of the table in `infra/habit-admin-policy.json`.
pub const ADMIN_POLICY_TABLE_ARN: &str = "arn:aws:dynamodb:<region>:<account>:table/<TableName>";

/// The statements of an IAM policy document (the operator tool's), its table's ARN written as
/// [`ADMIN_POLICY_TABLE_ARN`].
pub fn document_statements(json: &serde_json::Value) -> Result<Vec<Statement>, String> {
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
            serde_json::Value::String(s) => vec![s.clone()],
            _ => vec![],
        }
    };
    json["Statement"]
        .as_array()
        .ok_or("a policy document without Statement")?
        .iter()
        .map(|s| {
            let resources = list(&s["Resource"])
                .into_iter()
                .map(|r| match r.strip_prefix(ADMIN_POLICY_TABLE_ARN) {
                    Some(rest) => Ok(format!("Table{rest}")),
                    None if r == "*" => Ok(r),
                    None => Err(format!("a resource this check cannot read: {r}")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Statement { allow: s["Effect"] == "Allow", actions: list(&s["Action"]), resources })
        })
        .collect()
}

/// Every caller's statements: each function of the template by its binary name, and the tool.
pub fn policies(template: &Y, admin_policy: &serde_json::Value) -> Result<BTreeMap<String, Vec<Statement>>, String> {
    let mut out = BTreeMap::new();
    for (name, f) in crate::template::functions(template) {
        let binary = crate::template::binary(f).ok_or_else(|| format!("{name}: no Metadata.BuildProperties.Binary"))?;
        out.insert(binary.to_owned(), function_statements(&name, f)?);
    }
    out.insert("habit-admin".to_owned(), document_statements(admin_policy)?);
    Ok(out)
}

/// What a function needs when it starts, read from its environment rather than recorded (the
/// cloud-only Secrets Manager reads): with `SIGNING_KEYS_SECRET_ARN: !Ref X` or
/// `VAPID_SECRET_ARN: !Ref X`, GetSecretValue on X.
pub fn start_needs(template: &Y) -> BTreeSet<Call> {
    let mut out = BTreeSet::new();
    for (_, f) in crate::template::functions(template) {
        for name in [shared::config::SIGNING_KEYS_SECRET_VAR, shared::push::VAPID_SECRET_VAR] {
            let var = &f["Properties"]["Environment"]["Variables"][name];
            if let (Some(binary), Ok(secret)) = (crate::template::binary(f), template_resource(var)) {
                out.insert(Call {
                    caller: binary.to_owned(),
                    operation: format!("GetSecretValue at start ({name})"),
                    action: "secretsmanager:GetSecretValue".to_owned(),
                    resource: secret,
                });
            }
        }
    }
    out
}

/// The actions Lambda's event source mappings take with a function's role, read from its
/// events rather than recorded (the cloud's pollers, which `scripts/triggers.py` plays locally):
/// a `DynamoDB` stream event needs the stream's four read actions, and its `OnFailure`
/// destination `sqs:SendMessage` on that queue.
pub fn event_source_needs(template: &Y) -> Result<BTreeSet<Call>, String> {
    let mut out = BTreeSet::new();
    for (name, f) in crate::template::functions(template) {
        let Some(binary) = crate::template::binary(f) else { continue };
        let Some(events) = f["Properties"]["Events"].as_mapping() else { continue };
        for (event, e) in events {
            if e["Type"] != "DynamoDB" {
                continue;
            }
            let need = |action: &str, resource: String| Call {
                caller: binary.to_owned(),
                operation: format!("{} event source mapping", event.as_str().unwrap_or("?")),
                action: action.to_owned(),
                resource,
            };
            let stream = template_resource(&e["Properties"]["Stream"]).map_err(|e| format!("{name}: {e}"))?;
            for action in ["DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"] {
                out.insert(need(&format!("dynamodb:{action}"), stream.clone()));
            }
            let failure = &e["Properties"]["DestinationConfig"]["OnFailure"];
            if !failure.is_null() {
                let queue = template_resource(&failure["Destination"]).map_err(|e| format!("{name}: {e}"))?;
                out.insert(need("sqs:SendMessage", queue));
            }
        }
    }
    Ok(out)
}

/// What a function that sends e-mail needs, read from its environment rather than recorded (SES
/// calls are not counted as DynamoDB's are): with `SES_FROM_ADDRESS` set, `ses:SendEmail` on the
/// sender's identity (any of the account's: `identity/*`) and, with `SES_CONFIGURATION_SET: !Ref
/// X`, on that configuration set (SES authorizes a send against both).
pub fn mail_needs(template: &Y) -> BTreeSet<Call> {
    let mut out = BTreeSet::new();
    for (_, f) in crate::template::functions(template) {
        let vars = &f["Properties"]["Environment"]["Variables"];
        let Some(binary) = crate::template::binary(f) else { continue };
        if vars["SES_FROM_ADDRESS"].is_null() {
            continue;
        }
        let need = |resource: String| Call {
            caller: binary.to_owned(),
            operation: "SendEmail (e-mail links)".to_owned(),
            action: "ses:SendEmail".to_owned(),
            resource,
        };
        out.insert(need("ses:identity/*".into()));
        if let Ok(set) = template_resource(&vars["SES_CONFIGURATION_SET"]) {
            out.insert(need(format!("ses:configuration-set/{set}")));
        }
    }
    out
}

/// What the check found for one caller.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Distinct (operation, action, resource) needs recorded.
    pub allowed: Vec<Call>,
    /// Calls the policy does not allow: "function, operation, action on resource".
    pub denied: Vec<Call>,
    /// Grants (action pattern, resource pattern) that no recorded call needed.
    pub unused: Vec<(String, String)>,
}

/// Evaluates every recorded call against its caller's statements, and every grant against the
/// calls. A caller without a policy, or a policy without a single call, is an error.
pub fn check(
    policies: &BTreeMap<String, Vec<Statement>>,
    calls: &BTreeSet<Call>,
) -> Result<BTreeMap<String, Verdict>, String> {
    let callers: BTreeSet<&str> = calls.iter().map(|c| c.caller.as_str()).collect();
    if let Some(stranger) = callers.iter().find(|c| !policies.contains_key(**c)) {
        return Err(format!("calls recorded for {stranger}, which has no policy in the template"));
    }
    let mut out = BTreeMap::new();
    for (caller, statements) in policies {
        let mine: Vec<&Call> = calls.iter().filter(|c| &c.caller == caller).collect();
        if mine.is_empty() {
            return Err(format!("no DynamoDB call of {caller} was recorded: its policy cannot be proven"));
        }
        let mut v = Verdict::default();
        for c in &mine {
            if allowed(statements, &c.action, &c.resource) {
                v.allowed.push((*c).clone());
            } else {
                v.denied.push((*c).clone());
            }
        }
        for s in statements.iter().filter(|s| s.allow) {
            for a in &s.actions {
                for r in &s.resources {
                    let grant = Statement { allow: true, actions: vec![a.clone()], resources: vec![r.clone()] };
                    if !mine.iter().any(|c| grant.matches(&c.action, &c.resource)) {
                        v.unused.push((a.clone(), r.clone()));
                    }
                }
            }
        }
        out.insert(caller.clone(), v);
    }
    Ok(out)
}

/// Reads every `*.jsonl` record of `dir`.
pub fn read_calls(dir: &Path) -> Result<BTreeSet<Call>, String> {
    let mut calls = BTreeSet::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "jsonl") {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            for line in text.lines().filter(|l| !l.is_empty()) {
                calls.insert(serde_json::from_str(line).map_err(|e| format!("{}: {e}: {line}", path.display()))?);
            }
        }
    }
    Ok(calls)
}
