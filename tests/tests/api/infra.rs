//! The three route tables must agree: the code (`ROUTES` of each function), the SAM template's
//! HttpApi events and the `cargo lambda watch` router in Cargo.toml. The table the local setup
//! creates must be the one the template declares. cfn-lint does not catch a misspelled `!Ref`
//! inside a policy, an unknown runtime or a bad schedule expression, so those are checked here.

use habit_tests::template::{functions, template, untag};
use serde_yaml::Value as Y;
use shared::storage::table;
use std::collections::BTreeSet;

type RouteSet = BTreeSet<(String, String)>; // (function, path): every method of a path goes to one function

/// The path API Gateway's `$default` route stands for, in the local router.
const CATCH_ALL: &str = "/{*path}";
/// The function that answers every path no route matches (a problem+json 404).
const FALLBACK_FUNCTION: &str = "auth";

/// Paths declared in code, with the binary that serves them, and the catch-all.
fn code_routes() -> RouteSet {
    let mut set: RouteSet =
        habit_tests::all_routes().into_iter().map(|(f, r)| (f.to_owned(), r.path.to_owned())).collect();
    set.insert((FALLBACK_FUNCTION.to_owned(), CATCH_ALL.to_owned()));
    set
}

#[test]
fn a_path_is_served_by_one_function() {
    let mut by_path = std::collections::BTreeMap::new();
    for (f, r) in habit_tests::all_routes() {
        let first = by_path.entry(r.path).or_insert(f);
        assert_eq!(*first, f, "{} is served by two functions", r.path);
    }
}

#[test]
fn template_routes_match_code_routes() {
    let t = template();
    let mut declared = RouteSet::new();
    for (name, f) in functions(&t) {
        let binary = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| panic!("{name}: no Binary"));
        if let Some(events) = f["Properties"]["Events"].as_mapping() {
            for (_, e) in events.iter().filter(|(_, e)| e["Type"] == "HttpApi") {
                let p = &e["Properties"];
                assert_eq!(untag(&p["ApiId"]).as_str(), Some("HttpApi"), "{name}: event on another API");
                assert_eq!(p["Method"].as_str(), Some("ANY"), "{name}: the function answers 405 itself");
                let path = p["Path"].as_str().unwrap();
                let path = if path == "$default" { CATCH_ALL } else { path };
                declared.insert((binary.to_owned(), path.to_owned()));
            }
        }
    }
    let code = code_routes();
    let missing: Vec<_> = code.difference(&declared).collect();
    let extra: Vec<_> = declared.difference(&code).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing from template: {missing:?}\nnot in code: {extra:?}");
}

#[test]
fn local_router_matches_code_routes() {
    let cargo: toml::Table =
        std::fs::read_to_string(habit_tests::repo_root().join("Cargo.toml")).unwrap().parse().unwrap();
    let router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"].as_table().expect("watch router");
    let mut local = RouteSet::new();
    for (path, function) in router {
        local.insert((function.as_str().expect("path = \"function\"").to_owned(), path.clone()));
    }
    let code = code_routes();
    let missing: Vec<_> = code.difference(&local).collect();
    let extra: Vec<_> = local.difference(&code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from Cargo.toml router: {missing:?}\nnot in code: {extra:?}"
    );
}

#[test]
fn every_function_binary_exists_and_runs_on_al2023_arm64() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    for (name, f) in functions(&t) {
        let get = |k: &str| {
            if f["Properties"][k].is_null() {
                globals[k].clone()
            } else {
                f["Properties"][k].clone()
            }
        };
        assert_eq!(get("Runtime").as_str(), Some("provided.al2023"), "{name}");
        assert_eq!(get("Architectures")[0].as_str(), Some("arm64"), "{name}");
        assert_eq!(f["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{name}");
        let binary = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        assert!(
            habit_tests::repo_root().join("functions").join(binary).join("src/main.rs").exists(),
            "{name}: no crate for {binary}"
        );
    }
}

/// Every `!Ref`, `!GetAtt` and `${...}` names a parameter, resource or pseudo parameter.
#[test]
fn every_reference_resolves() {
    let t = template();
    let mut known: BTreeSet<String> =
        ["AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::URLSuffix", "AWS::Partition", "AWS::NoValue"]
            .into_iter()
            .map(String::from)
            .collect();
    for section in ["Parameters", "Resources"] {
        known.extend(t[section].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_owned()));
    }
    let mut refs = Vec::new();
    fn walk(v: &Y, refs: &mut Vec<String>) {
        match v {
            Y::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                match (tag.as_str(), &tagged.value) {
                    ("!Ref", Y::String(s)) => refs.push(s.clone()),
                    ("!GetAtt", Y::String(s)) => refs.push(s.split('.').next().unwrap().to_owned()),
                    ("!Sub", Y::String(s)) => {
                        for part in s.split("${").skip(1) {
                            let name = part.split('}').next().unwrap();
                            refs.push(name.split('.').next().unwrap().to_owned());
                        }
                    }
                    _ => {}
                }
                walk(&tagged.value, refs);
            }
            Y::Mapping(m) => m.values().for_each(|v| walk(v, refs)),
            Y::Sequence(s) => s.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    walk(&t["Resources"], &mut refs);
    walk(&t["Outputs"], &mut refs);
    walk(&t["Globals"], &mut refs);
    assert!(refs.len() > 10, "the walk found the references");
    let unknown: Vec<_> = refs.iter().filter(|r| !known.contains(*r)).collect();
    assert!(unknown.is_empty(), "unresolved references: {unknown:?}");
}

/// Schedule expressions (EventBridge) must be `rate(1 minute)` / `rate(N minutes)` or `cron(...)`.
#[test]
fn schedule_expressions_are_well_formed() {
    let t = template();
    for (name, f) in functions(&t) {
        let Some(events) = f["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, e) in events.iter().filter(|(_, e)| e["Type"] == "Schedule" || e["Type"] == "ScheduleV2") {
            let expr = e["Properties"]["Schedule"].as_str().or(e["Properties"]["ScheduleExpression"].as_str()).unwrap();
            let ok = match expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
                Some(rate) => {
                    let (n, unit) = rate.split_once(' ').unwrap_or(("", ""));
                    let n: u32 = n.parse().unwrap_or(0);
                    n >= 1
                        && (unit == if n == 1 { "minute" } else { "minutes" }
                            || unit == if n == 1 { "hour" } else { "hours" })
                }
                None => expr.starts_with("cron(") && expr.ends_with(')'),
            };
            assert!(ok, "{name}: bad schedule {expr}");
        }
    }
}

#[test]
fn template_table_matches_the_local_table_definition() {
    let t = template();
    let tbl = &t["Resources"]["Table"]["Properties"];
    assert_eq!(tbl["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(tbl["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    assert_eq!(tbl["DeletionProtectionEnabled"], true);
    assert_eq!(tbl["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(shared::keys::TTL_ATTRIBUTE));
    assert_eq!(tbl["StreamSpecification"]["StreamViewType"].as_str(), Some(table::STREAM_VIEW.as_str()));
    let mut attrs: Vec<(&str, &str)> = tbl["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (a["AttributeName"].as_str().unwrap(), a["AttributeType"].as_str().unwrap()))
        .collect();
    attrs.sort_unstable();
    assert_eq!(attrs, table::key_attributes());
    let schema = |s: &Y| -> (String, String) {
        let s = s.as_sequence().unwrap();
        assert_eq!((s[0]["KeyType"].as_str(), s[1]["KeyType"].as_str()), (Some("HASH"), Some("RANGE")));
        (s[0]["AttributeName"].as_str().unwrap().into(), s[1]["AttributeName"].as_str().unwrap().into())
    };
    assert_eq!(schema(&tbl["KeySchema"]), (table::TABLE.pk.into(), table::TABLE.sk.into()));
    let gsis: Vec<(String, (String, String), String)> = tbl["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["IndexName"].as_str().unwrap().into(),
                schema(&g["KeySchema"]),
                g["Projection"]["ProjectionType"].as_str().unwrap().into(),
            )
        })
        .collect();
    let local: Vec<(String, (String, String), String)> =
        table::INDEXES.iter().map(|i| (i.gsi_name().into(), (i.pk.into(), i.sk.into()), "ALL".into())).collect();
    assert_eq!(gsis, local);
}

/// The dispatcher runs every minute, with a dead-letter queue for failed events and an alarm on it.
#[test]
fn dispatcher_is_scheduled_every_minute_with_a_dead_letter_queue_and_alarm() {
    let t = template();
    let (name, f) = functions(&t)
        .into_iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == "dispatcher")
        .expect("a dispatcher function");
    let events = f["Properties"]["Events"].as_mapping().unwrap();
    let schedules: Vec<&Y> = events.values().filter(|e| e["Type"] == "Schedule").collect();
    let schedule = *schedules.first().unwrap_or_else(|| panic!("{name}: no schedule"));
    for s in &schedules {
        assert_eq!(s["Properties"]["Schedule"], "rate(1 minute)");
        assert_eq!(s["Properties"]["DeadLetterConfig"], schedule["Properties"]["DeadLetterConfig"]);
        assert_eq!(s["Properties"]["RetryPolicy"], schedule["Properties"]["RetryPolicy"]);
    }
    // One schedule per dispatch group, whose event names it: together they take every due shard
    // once each minute.
    let mut groups: Vec<dispatcher::ShardGroup> = schedules
        .iter()
        .map(|s| {
            let input: serde_json::Value =
                serde_json::from_str(s["Properties"]["Input"].as_str().expect("an Input")).unwrap();
            dispatcher::ShardGroup::parse(&input["dispatch_group"]).unwrap()
        })
        .collect();
    groups.sort_by_key(|g| g.index);
    assert_eq!(groups.len() as u32, dispatcher::SHARD_GROUPS);
    assert!(
        groups.iter().enumerate().all(|(i, g)| g.index == i as u32 && g.of == dispatcher::SHARD_GROUPS),
        "{groups:?}"
    );
    let mut shards: Vec<u32> = groups.iter().flat_map(|g| g.shards()).collect();
    shards.sort();
    assert_eq!(shards, (0..shared::keys::DUE_SHARDS).collect::<Vec<_>>());
    let dlq = untag(&schedule["Properties"]["DeadLetterConfig"]["Arn"])
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(t["Resources"][dlq.as_str()]["Type"], "AWS::SQS::Queue");
    let alarmed = t["Resources"].as_mapping().unwrap().values().any(|r| {
        r["Type"] == "AWS::CloudWatch::Alarm"
            && r["Properties"]["Dimensions"]
                .as_sequence()
                .is_some_and(|d| d.iter().any(|d| untag(&d["Value"]).as_str().is_some_and(|v| v.starts_with(&dlq))))
    });
    assert!(alarmed, "no alarm on {dlq}");
    // Whole-minute fire times fit well inside the timeout.
    assert!(f["Properties"]["Timeout"].as_u64().unwrap() < 60);
}

/// At `trace` the Lambda runtime logs whole events (passwords, tokens): not a level the stack
/// may be deployed with, nor one the functions start with.
#[test]
fn trace_logging_is_not_allowed() {
    let t = template();
    let levels: Vec<&str> = t["Parameters"]["LogLevel"]["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!levels.is_empty() && !levels.contains(&"trace"), "{levels:?}");
    assert!(levels.contains(&t["Parameters"]["LogLevel"]["Default"].as_str().unwrap()));
}

/// The signing keys live in a Secrets Manager secret that the stack creates; no function gets a
/// key in a plain environment variable, and every function that checks tokens names the secret.
#[test]
fn signing_keys_come_from_secrets_manager_not_the_environment() {
    let t = template();
    let global = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert!(global.get("JWT_SECRET").is_none() && global.get("JWT_KEYS").is_none());
    for (name, f) in functions(&t) {
        let vars = &f["Properties"]["Environment"]["Variables"];
        assert!(vars.get("JWT_SECRET").is_none() && vars.get("JWT_KEYS").is_none(), "{name}: a key in the environment");
        let binary = habit_tests::template::binary(f).unwrap();
        let secret = vars.get(shared::config::SIGNING_KEYS_SECRET_VAR).map(|v| untag(v).as_str().unwrap().to_owned());
        if habit_tests::FUNCTIONS.iter().any(|h| h.name == binary) {
            let secret = secret.unwrap_or_else(|| panic!("{name} checks tokens but names no key secret"));
            assert_eq!(t["Resources"][secret.as_str()]["Type"], "AWS::SecretsManager::Secret", "{name}");
            assert!(vars.get("SIGNING_KEYS_VERSION").is_some(), "{name}: a rotation must restart it");
        } else {
            assert!(secret.is_none(), "{name} does not check tokens and must not read the keys");
        }
    }
    assert!(t["Parameters"].get("JwtSecret").is_none(), "no key as a stack parameter");
}

/// The routes that hash passwords or mint sessions are throttled tighter than the stage.
#[test]
fn auth_routes_are_throttled_tighter_than_the_stage() {
    let t = template();
    let api = &t["Resources"]["HttpApi"]["Properties"];
    let default = |p: &str| {
        t["Parameters"][untag(&api["DefaultRouteSettings"][p]).as_str().unwrap()]["Default"].as_u64().unwrap()
    };
    for route in ["ANY /auth/register", "ANY /auth/login", "ANY /auth/refresh"] {
        let s = &api["RouteSettings"][route];
        for p in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
            let limit = t["Parameters"][untag(&s[p]).as_str().unwrap_or_else(|| panic!("{route}: no {p}"))]["Default"]
                .as_u64()
                .unwrap();
            assert!(limit > 0 && limit < default(p), "{route}: {p} {limit} is not below the stage's {}", default(p));
        }
    }
    // Every route setting names a route the API has.
    let routes = api["RouteSettings"].as_mapping().unwrap();
    let paths: BTreeSet<String> = code_routes().into_iter().map(|(_, p)| format!("ANY {p}")).collect();
    assert!(routes.keys().all(|k| paths.contains(k.as_str().unwrap())), "{routes:?}");
}

/// Login floods (argon2 work) must not take every concurrent execution of the account, and a
/// traffic peak must not keep the dispatcher from firing.
#[test]
fn auth_and_the_dispatcher_have_reserved_concurrency() {
    let t = template();
    for binary in ["auth", "dispatcher"] {
        let (name, f) =
            functions(&t).into_iter().find(|(_, f)| habit_tests::template::binary(f) == Some(binary)).unwrap();
        let reserved = &f["Properties"]["ReservedConcurrentExecutions"];
        let Y::Tagged(choice) = reserved else { panic!("{name}: no reserved concurrency") };
        let branches = choice.value.as_sequence().unwrap();
        let param = untag(&branches[1]).as_str().unwrap();
        assert!(t["Parameters"][param]["Default"].as_u64().unwrap() > 0, "{name}: reserved by default");
        assert_eq!(untag(&branches[2]).as_str(), Some("AWS::NoValue"), "{name}: otherwise unset");
        // The condition is `!Not [!Equals [!Ref <param>, 0]]`: 0 leaves it unset.
        let not = untag(&t["Conditions"][branches[0].as_str().unwrap()]).as_sequence().unwrap();
        let equals = untag(&not[0]).as_sequence().unwrap();
        assert_eq!((untag(&equals[0]).as_str(), equals[1].as_u64()), (Some(param), Some(0)), "{name}");
    }
}

/// A dispatcher run that cannot believe its deadline works as long as the template lets it.
#[test]
fn the_dispatcher_fallback_timeout_is_the_template_timeout() {
    let t = template();
    let (_, f) =
        functions(&t).into_iter().find(|(_, f)| habit_tests::template::binary(f) == Some("dispatcher")).unwrap();
    assert_eq!(f["Properties"]["Timeout"].as_u64(), Some(dispatcher::FALLBACK_TIMEOUT.as_secs()));
}
