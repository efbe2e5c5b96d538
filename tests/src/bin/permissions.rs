//! Proves every caller's IAM permissions against the DynamoDB calls it really made: reads the
//! records of a run (`DYNAMODB_CALL_LOG`, written by `make test` over the integration suite, the
//! end-to-end run and the contract run) and evaluates them against `infra/template.yaml` and the
//! operator tool's `infra/habit-admin-policy.json` (see `habit_tests::iam`).
//!
//! ```text
//! permissions [--template PATH] [--admin-policy PATH] RECORDS_DIR
//! ```
//! Exits 1 naming caller, operation, action and resource for a call its policy does not allow,
//! and naming every grant no call needed.

use habit_tests::iam;
use std::{path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let root = habit_tests::repo_root();
    let (mut template, mut admin_policy, mut dir) =
        (habit_tests::template::path(), root.join("infra/habit-admin-policy.json"), None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--template" => template = PathBuf::from(args.next().expect("--template PATH")),
            "--admin-policy" => admin_policy = PathBuf::from(args.next().expect("--admin-policy PATH")),
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: permissions [--template PATH] [--admin-policy PATH] RECORDS_DIR");
        return ExitCode::from(2);
    };
    let admin: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&admin_policy).expect("admin policy"))
        .expect("admin policy is JSON");
    let template = habit_tests::template::load(&template);
    let verdicts = iam::read_calls(&dir)
        .and_then(|mut calls| {
            calls.extend(iam::start_needs(&template));
            calls.extend(iam::event_source_needs(&template)?);
            calls.extend(iam::mail_needs(&template));
            Ok(calls)
        })
        .and_then(|calls| Ok((iam::policies(&template, &admin)?, calls)))
        .and_then(|(policies, calls)| iam::check(&policies, &calls).map(|v| (v, calls.len())));
    let (verdicts, recorded) = match verdicts {
        Ok(v) => v,
        Err(e) => {
            println!("permissions: {e}");
            println!("permissions: 0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for (caller, v) in &verdicts {
        let actions: std::collections::BTreeSet<&str> = v.allowed.iter().map(|c| c.action.as_str()).collect();
        println!(
            "ok    {caller}: {} distinct calls allowed ({})",
            v.allowed.len(),
            actions.into_iter().collect::<Vec<_>>().join(", ")
        );
        passed += v.allowed.len();
        for c in &v.denied {
            println!(
                "FAIL  {caller}: {} needs {} on {}, which its policy does not allow",
                c.operation, c.action, c.resource
            );
        }
        for (a, r) in &v.unused {
            println!("FAIL  {caller}: granted {a} on {r}, which no recorded call needed");
        }
        failed += v.denied.len() + v.unused.len();
    }
    println!("permissions: {recorded} distinct calls recorded for {} callers", verdicts.len());
    println!("permissions: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
