//! Writes the API's OpenAPI document, as the code describes it, to `docs/openapi.json` (the file
//! `GET /openapi.json` serves). `make openapi` runs it; `tests/tests/api/openapi.rs` fails while the
//! committed file is not current.

fn main() {
    let json = serde_json::to_string_pretty(&habit_tests::openapi_document()).expect("serialize") + "\n";
    let path = habit_tests::openapi_path();
    std::fs::write(&path, json).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    println!("wrote {}", path.display());
}
