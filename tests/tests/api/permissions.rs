//! The permission check itself (`habit_tests::iam`), on the real template: what it reads, and
//! that it fails both ways. The check over the calls of a whole run is `make test`'s last step
//! (`cargo run -p habit-tests --bin permissions target/dynamodb-calls`).

use habit_tests::iam::{self, Call};
use habit_tests::template;
use serde_json::json;
use shared::storage::counter::iam_actions;
use std::collections::BTreeSet;

fn admin_policy() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(habit_tests::repo_root().join("infra/habit-admin-policy.json")).unwrap(),
    )
    .unwrap()
}

fn call(caller: &str, operation: &str, action: &str, resource: &str) -> Call {
    Call { caller: caller.into(), operation: operation.into(), action: action.into(), resource: resource.into() }
}

/// Every call each caller's statements allow, one per granted (action, resource): a run that
/// exercised every grant exactly.
fn exact_calls(policies: &std::collections::BTreeMap<String, Vec<iam::Statement>>) -> BTreeSet<Call> {
    let mut calls = BTreeSet::new();
    for (caller, statements) in policies {
        for s in statements.iter().filter(|s| s.allow) {
            for a in &s.actions {
                for r in &s.resources {
                    calls.insert(call(caller, a.trim_start_matches("dynamodb:"), a, r));
                }
            }
        }
    }
    calls
}

#[test]
fn every_caller_has_a_policy_this_check_can_read() {
    let policies = iam::policies(&template::template(), &admin_policy()).unwrap();
    let callers: Vec<&str> = policies.keys().map(String::as_str).collect();
    assert_eq!(
        callers,
        ["auth", "categories", "challenges", "deliver", "dispatcher", "habit-admin", "habits", "reminders", "users"]
    );
}

#[test]
fn deleting_one_action_from_one_policy_fails_naming_function_operation_and_resource() {
    let real = template::template();
    let policies = iam::policies(&real, &admin_policy()).unwrap();
    let calls = exact_calls(&policies);
    // The mutation: the template without `dynamodb:UpdateItem` in the auth function's policy.
    let text = std::fs::read_to_string(template::path()).unwrap();
    let auth_policy = "Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem";
    assert!(text.contains(auth_policy), "the auth policy as this test knows it");
    let mutated: serde_yaml::Value =
        serde_yaml::from_str(&text.replacen(auth_policy, "Action: [dynamodb:GetItem, dynamodb:PutItem", 1)).unwrap();
    let verdicts = iam::check(&iam::policies(&mutated, &admin_policy()).unwrap(), &calls).unwrap();
    let denied: Vec<&Call> = verdicts.values().flat_map(|v| &v.denied).collect();
    assert_eq!(denied, [&call("auth", "UpdateItem", "dynamodb:UpdateItem", "Table")]);
}

#[test]
fn the_functions_that_read_the_secrets_are_the_ones_granted_them() {
    let t = template::template();
    let needs = iam::start_needs(&t);
    let readers = |secret: &str| -> Vec<&str> {
        needs.iter().filter(|c| c.resource == secret).map(|c| c.caller.as_str()).collect()
    };
    assert_eq!(readers("SigningKeys"), ["auth", "categories", "challenges", "habits", "reminders", "users"]);
    assert_eq!(readers("VapidKey"), ["deliver", "reminders"]);
    assert_eq!(readers("SigningKeys").len() + readers("VapidKey").len(), needs.len(), "no other secret");
    let policies = iam::policies(&t, &admin_policy()).unwrap();
    assert!(!iam::allowed(&policies["dispatcher"], "secretsmanager:GetSecretValue", "SigningKeys"));
    assert!(!iam::allowed(&policies["deliver"], "secretsmanager:GetSecretValue", "SigningKeys"));
    assert!(!iam::allowed(&policies["habits"], "secretsmanager:GetSecretValue", "VapidKey"));
    assert!(needs.iter().all(|c| iam::allowed(&policies[&c.caller], &c.action, &c.resource)));
}

#[test]
fn a_grant_no_call_needed_fails() {
    let policies = iam::policies(&template::template(), &admin_policy()).unwrap();
    let mut calls = exact_calls(&policies);
    let dropped = call("habits", "Query", "dynamodb:Query", "Table/index/GSI2");
    assert!(calls.remove(&dropped));
    let verdicts = iam::check(&policies, &calls).unwrap();
    assert_eq!(verdicts["habits"].unused, [("dynamodb:Query".to_owned(), "Table/index/GSI2".to_owned())]);
    assert!(verdicts.iter().filter(|(c, _)| *c != "habits").all(|(_, v)| v.unused.is_empty()));
}

#[test]
fn an_index_is_its_own_resource_and_another_table_is_not_the_table() {
    let policies = iam::policies(&template::template(), &admin_policy()).unwrap();
    let reminders = &policies["reminders"];
    assert!(iam::allowed(reminders, "dynamodb:Query", "Table"));
    assert!(!iam::allowed(reminders, "dynamodb:Query", "Table/index/GSI1"));
    assert!(!iam::allowed(reminders, "dynamodb:GetItem", "table/someone-elses"));
    assert!(!iam::allowed(&policies["dispatcher"], "dynamodb:Scan", "Table"));
}

#[test]
fn a_caller_without_a_policy_or_a_policy_without_calls_is_an_error() {
    let policies = iam::policies(&template::template(), &admin_policy()).unwrap();
    let mut calls = exact_calls(&policies);
    calls.insert(call("stranger", "GetItem", "dynamodb:GetItem", "Table"));
    assert!(iam::check(&policies, &calls).unwrap_err().contains("stranger"));
    let calls: BTreeSet<Call> = exact_calls(&policies).into_iter().filter(|c| c.caller != "dispatcher").collect();
    assert!(iam::check(&policies, &calls).unwrap_err().contains("dispatcher"));
}

#[test]
fn a_policy_the_check_cannot_read_is_refused_by_name() {
    let text = std::fs::read_to_string(template::path()).unwrap();
    let literal = text.replacen("Resource: !GetAtt Table.Arn", "Resource: arn:aws:dynamodb:*:*:table/habits", 1);
    let err = iam::policies(&serde_yaml::from_str(&literal).unwrap(), &admin_policy()).unwrap_err();
    assert!(err.contains("AuthFunction") && err.contains("table/habits"), "{err}");
}

/// cfn-lint does not see a misspelled `!GetAtt` inside a policy; the calls do.
#[test]
fn a_misspelled_table_in_a_policy_denies_the_calls_on_the_table() {
    let policies = iam::policies(&template::template(), &admin_policy()).unwrap();
    let calls = exact_calls(&policies);
    let text = std::fs::read_to_string(template::path()).unwrap();
    let misspelt = text.replacen("Resource: !GetAtt Table.Arn", "Resource: !GetAtt Tabel.Arn", 1);
    let verdicts =
        iam::check(&iam::policies(&serde_yaml::from_str(&misspelt).unwrap(), &admin_policy()).unwrap(), &calls);
    let auth = &verdicts.unwrap()["auth"];
    assert!(!auth.denied.is_empty() && auth.denied.iter().all(|c| c.resource == "Table"), "{auth:?}");
    assert!(auth.unused.iter().any(|(_, r)| r == "Tabel"));
}

#[test]
fn each_request_needs_the_actions_iam_asks_for() {
    let body = json!({"TransactItems": [
        {"Put": {"TableName": "t"}}, {"Update": {"TableName": "t"}},
        {"Delete": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}
    ]});
    let actions: Vec<String> = iam_actions("TransactWriteItems", &body).into_iter().map(|(a, _, _)| a).collect();
    assert_eq!(actions, ["PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"]);
    let get = iam_actions("TransactGetItems", &json!({"TransactItems": [{"Get": {"TableName": "t"}}]}));
    assert_eq!(get, [("GetItem".to_owned(), Some("t".to_owned()), None)]);
    let batch = iam_actions("BatchGetItem", &json!({"RequestItems": {"t": {"Keys": []}}}));
    assert_eq!(batch, [("BatchGetItem".to_owned(), Some("t".to_owned()), None)]);
    let query = iam_actions("Query", &json!({"TableName": "t", "IndexName": "GSI1"}));
    assert_eq!(query, [("Query".to_owned(), Some("t".to_owned()), Some("GSI1".to_owned()))]);
    assert_eq!(iam_actions("ListTables", &json!({})), [("ListTables".to_owned(), None, None)]);
}
