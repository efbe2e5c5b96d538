//! The table's definition, in one place: the local setup (`habit-admin create-table`, the test
//! harness) creates it from here, and a test checks that `infra/template.yaml` declares the same.

use crate::keys;
use aws_sdk_dynamodb::{
    types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
    },
    Client,
};

/// Where a Query runs: the table itself (no name) or a GSI (projection ALL), with its key
/// attributes. Queries name one; `create_table` and the template test read them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: Option<&'static str>,
    pub pk: &'static str,
    pub sk: &'static str,
    /// The sort key is a number (`N`) rather than a string (`S`).
    pub sk_numeric: bool,
}

impl Index {
    /// A GSI's name (the table's key has none).
    pub fn gsi_name(&self) -> &'static str {
        self.name.expect("a global secondary index")
    }
}

pub const TABLE: Index = Index { name: None, pk: keys::PK, sk: keys::SK, sk_numeric: false };
pub const GSI1: Index = Index { name: Some(keys::GSI1), pk: keys::GSI1PK, sk: keys::GSI1SK, sk_numeric: false };
pub const GSI2: Index = Index { name: Some(keys::GSI2), pk: keys::GSI2PK, sk: keys::GSI2SK, sk_numeric: false };
pub const GSI3: Index = Index { name: Some(keys::GSI3), pk: keys::GSI3PK, sk: keys::GSI3SK, sk_numeric: true };

/// Every GSI of the table.
pub const INDEXES: [Index; 3] = [GSI1, GSI2, GSI3];

/// Every attribute named in a key schema with its type (`S` or `N`), sorted by name.
pub fn key_attributes() -> Vec<(&'static str, &'static str)> {
    let mut names = vec![(TABLE.pk, "S"), (TABLE.sk, "S")];
    for ix in INDEXES {
        names.extend([(ix.pk, "S"), (ix.sk, if ix.sk_numeric { "N" } else { "S" })]);
    }
    names.sort_unstable();
    names.dedup();
    names
}

fn schema(pk: &str, sk: &str) -> Vec<KeySchemaElement> {
    [(pk, KeyType::Hash), (sk, KeyType::Range)]
        .into_iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("static key schema")
        })
        .collect()
}

/// What the table's stream carries: keys only (the delivery reads the outbox item itself).
pub const STREAM_VIEW: StreamViewType = StreamViewType::KeysOnly;

/// Creates the table (on-demand) with its GSIs, stream and TTL. An existing table is left as it is.
pub async fn create_table(client: &Client, name: &str) -> Result<(), String> {
    create(client, name, true).await
}

/// The table without its stream: the test worlds, which hand the delivery its stream events
/// themselves (a stream on each of DynamoDB Local's hundreds of test tables slows it fourfold).
pub async fn create_table_without_stream(client: &Client, name: &str) -> Result<(), String> {
    create(client, name, false).await
}

async fn create(client: &Client, name: &str, stream: bool) -> Result<(), String> {
    let attrs = key_attributes()
        .into_iter()
        .map(|(a, t)| {
            AttributeDefinition::builder()
                .attribute_name(a)
                .attribute_type(if t == "N" { ScalarAttributeType::N } else { ScalarAttributeType::S })
                .build()
                .expect("static attribute")
        })
        .collect();
    let gsis = INDEXES
        .iter()
        .map(|ix| {
            GlobalSecondaryIndex::builder()
                .index_name(ix.gsi_name())
                .set_key_schema(Some(schema(ix.pk, ix.sk)))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .expect("static index")
        })
        .collect();
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attrs))
        .set_key_schema(Some(schema(TABLE.pk, TABLE.sk)))
        .set_global_secondary_indexes(Some(gsis))
        .set_stream_specification(stream.then(|| {
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(STREAM_VIEW)
                .build()
                .expect("static stream")
        }))
        .send()
        .await;
    if let Err(e) = created {
        let text = format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e));
        if text.contains("ResourceInUseException") {
            return Ok(());
        }
        return Err(text);
    }
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(keys::TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .expect("static ttl"),
        )
        .send()
        .await
        .map_err(|e| format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    Ok(())
}
