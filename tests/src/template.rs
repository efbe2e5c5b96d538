//! `infra/template.yaml`, read as YAML: CloudFormation's short forms (`!Ref`, `!GetAtt`, `!Sub`)
//! are YAML tags ([`serde_yaml::Value::Tagged`]).

use serde_yaml::Value as Y;

pub fn path() -> std::path::PathBuf {
    crate::repo_root().join("infra/template.yaml")
}

pub fn load(path: &std::path::Path) -> Y {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The project's template.
pub fn template() -> Y {
    load(&path())
}

/// A value without its short-form tag.
pub fn untag(v: &Y) -> &Y {
    match v {
        Y::Tagged(t) => &t.value,
        other => other,
    }
}

/// Every `AWS::Serverless::Function` with its logical name.
pub fn functions(t: &Y) -> Vec<(String, &Y)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, r)| (name.as_str().unwrap().to_owned(), r))
        .collect()
}

/// The cargo binary a function is built from (`Metadata.BuildProperties.Binary`).
pub fn binary(f: &Y) -> Option<&str> {
    f["Metadata"]["BuildProperties"]["Binary"].as_str()
}
