//! The API reference: the server installs the OpenAPI document of `/api/v1` (generated
//! from its handlers) once at start-up; this reads it into the page's view of it. The
//! document is a constant of the build, so it is parsed once and kept.

use crate::error::AppError;
use crate::types::{ApiField, ApiOperation, ApiParam, ApiReference, ApiResponse, ApiSchema, ApiSection, ApiType};
use serde_json::Value;
use std::sync::OnceLock;

static DOCUMENT: OnceLock<&'static str> = OnceLock::new();
static REFERENCE: OnceLock<Result<ApiReference, String>> = OnceLock::new();

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Installs the document (the server does, before it serves). Later calls are ignored:
/// there is one document per build.
pub fn install(document: &'static str) {
    let _ = DOCUMENT.set(document);
}

/// The reference, read from the installed document.
pub fn reference() -> Result<ApiReference, AppError> {
    let Some(doc) = DOCUMENT.get() else {
        return Err(AppError::not_found(
            "api_reference_unavailable",
            "This server has no API document installed.",
        ));
    };
    REFERENCE
        .get_or_init(|| read(doc))
        .clone()
        .map_err(|e| crate::ssr::auth::internal("api document", e))
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Reads the document into the reference.
pub fn read(document: &str) -> Result<ApiReference, String> {
    let doc: Value = serde_json::from_str(document).map_err(|e| e.to_string())?;
    let mut sections: Vec<ApiSection> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| ApiSection {
            name: str_of(&t["name"]),
            description: str_of(&t["description"]),
            operations: Vec::new(),
        })
        .collect();
    for (path, item) in doc["paths"].as_object().ok_or("the document has no paths")? {
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let operation = operation(m, path, op);
            let tag = op["tags"][0].as_str().unwrap_or("Other");
            match sections.iter_mut().find(|s| s.name == tag) {
                Some(s) => s.operations.push(operation),
                None => sections.push(ApiSection {
                    name: tag.to_owned(),
                    description: String::new(),
                    operations: vec![operation],
                }),
            }
        }
    }
    sections.retain(|s| !s.operations.is_empty());
    let schemas = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| schema(name, s))
        .collect();
    Ok(ApiReference {
        title: format!("{} {}", str_of(&doc["info"]["title"]), str_of(&doc["info"]["version"])),
        openapi: str_of(&doc["openapi"]),
        description: str_of(&doc["info"]["description"])
            .split("\n\n")
            .map(str::to_owned)
            .collect(),
        sections,
        schemas,
    })
}

fn operation(method: &str, path: &str, op: &Value) -> ApiOperation {
    let params = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| ApiParam {
            name: str_of(&p["name"]),
            location: str_of(&p["in"]),
            required: p["required"] == true,
            ty: type_of(&p["schema"]),
            description: str_of(&p["description"]),
        })
        .collect();
    let body = contents(&op["requestBody"]["content"]);
    let responses = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, r)| ApiResponse {
            status: status.clone(),
            description: str_of(&r["description"]),
            content: contents(&r["content"]),
        })
        .collect();
    ApiOperation {
        id: str_of(&op["operationId"]),
        method: method.to_uppercase(),
        path: path.to_owned(),
        summary: str_of(&op["summary"]),
        description: str_of(&op["description"]),
        params,
        body,
        body_required: op["requestBody"]["required"] == true,
        responses,
    }
}

fn contents(content: &Value) -> Vec<ApiType> {
    content
        .as_object()
        .into_iter()
        .flatten()
        .map(|(media, c)| ApiType {
            media: media.clone(),
            ..type_of(&c["schema"])
        })
        .collect()
}

fn plain(text: impl Into<String>) -> ApiType {
    ApiType {
        before: text.into(),
        ..Default::default()
    }
}

/// A schema as words: `string (date)`, `array of` X, X `or null`, `one of a, b`.
fn type_of(s: &Value) -> ApiType {
    if let Some(r) = s["$ref"].as_str() {
        return ApiType {
            schema: Some(r.rsplit('/').next().unwrap_or(r).to_owned()),
            ..Default::default()
        };
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = s[key].as_array() {
            let (nulls, others): (Vec<&Value>, Vec<&Value>) = alts.iter().partition(|a| a["type"] == "null");
            if others.len() == 1 {
                let mut t = type_of(others[0]);
                if !nulls.is_empty() {
                    t.after = format!("{} or null", t.after).trim().to_owned();
                }
                return t;
            }
            return plain(alternatives(alts));
        }
    }
    if let Some(all) = s["allOf"].as_array() {
        if all.len() == 1 {
            return type_of(&all[0]);
        }
    }
    if let Some(e) = s["enum"].as_array() {
        let values: Vec<String> = e
            .iter()
            .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
            .collect();
        return plain(format!("one of {}", values.join(", ")));
    }
    let (base, nullable) = match &s["type"] {
        Value::String(t) => (t.clone(), false),
        Value::Array(ts) => {
            let named: Vec<&str> = ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect();
            (named.join(" or "), ts.len() > named.len())
        }
        _ => (String::new(), false),
    };
    let mut t = match base.as_str() {
        "array" => {
            let inner = type_of(&s["items"]);
            ApiType {
                before: format!("array of {}", inner.before).trim_end().to_owned(),
                ..inner
            }
        }
        "object" if s["additionalProperties"].is_object() => {
            let inner = type_of(&s["additionalProperties"]);
            ApiType {
                before: format!("map of {}", inner.before).trim_end().to_owned(),
                ..inner
            }
        }
        "" => plain("any JSON value"),
        other => match s["format"].as_str() {
            Some(f) => plain(format!("{other} ({f})")),
            None => plain(other),
        },
    };
    if nullable {
        t.after = format!("{} or null", t.after).trim().to_owned();
    }
    t
}

/// Alternatives in one line: each as its type or, for an inline object, its properties.
fn alternatives(alts: &[Value]) -> String {
    let each: Vec<String> = alts
        .iter()
        .map(|a| match a["properties"].as_object() {
            Some(p) => format!("{{{}}}", p.keys().cloned().collect::<Vec<_>>().join(", ")),
            None => {
                let t = type_of(a);
                format!("{}{}{}", t.before, t.schema.unwrap_or_default(), t.after)
            }
        })
        .collect();
    format!("one of {}", each.join(" | "))
}

fn schema(name: &str, s: &Value) -> ApiSchema {
    let required: Vec<&str> = s["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let fields: Vec<ApiField> = s["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(field, f)| ApiField {
            name: field.clone(),
            ty: type_of(f),
            required: required.contains(&field.as_str()),
            description: str_of(&f["description"]),
        })
        .collect();
    let kind = if fields.is_empty() {
        let t = type_of(s);
        format!("{}{}{}", t.before, t.schema.unwrap_or_default(), t.after)
    } else {
        String::new()
    };
    ApiSchema {
        name: name.to_owned(),
        description: str_of(&s["description"]),
        kind,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_reads_into_sections_operations_and_schemas() {
        let doc = r##"{
          "openapi": "3.1.0",
          "info": {"title": "T", "version": "1", "description": "One.\n\nTwo."},
          "tags": [{"name": "B", "description": "bees"}, {"name": "A"}],
          "paths": {
            "/x/{id}": {
              "get": {"operationId": "get_x", "summary": "Get", "tags": ["A"],
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64"}, "description": "The x."}],
                "responses": {"200": {"description": "Done.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}}}},
              "put": {"operationId": "put_x", "summary": "Put", "tags": ["A"],
                "requestBody": {"required": true, "content": {"text/csv": {"schema": {"type": "string"}}}},
                "responses": {"200": {"description": "Done."}}}
            }
          },
          "components": {"schemas": {
            "X": {"type": "object", "required": ["a"], "description": "An x.", "properties": {
              "a": {"type": "array", "items": {"$ref": "#/components/schemas/Y"}},
              "b": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Y"}]},
              "c": {"type": ["string", "null"], "format": "date"}
            }},
            "Y": {"type": "string", "enum": ["p", "q"]}
          }}
        }"##;
        let r = read(doc).unwrap();
        assert_eq!(r.title, "T 1");
        assert_eq!(r.description, ["One.", "Two."]);
        // Tags without operations are left out; operations keep the document's order.
        assert_eq!(r.sections.len(), 1);
        let ops = &r.sections[0].operations;
        assert_eq!((ops[0].method.as_str(), ops[1].method.as_str()), ("GET", "PUT"));
        assert_eq!(ops[0].params[0].ty.before, "integer (int64)");
        assert!(ops[0].params[0].required);
        assert_eq!(ops[0].responses[0].content[0].schema.as_deref(), Some("X"));
        assert_eq!(ops[1].body[0].media, "text/csv");
        assert!(ops[1].body_required);
        let x = &r.schemas[0];
        assert_eq!(
            (x.fields[0].ty.before.as_str(), x.fields[0].ty.schema.as_deref()),
            ("array of", Some("Y"))
        );
        assert!(x.fields[0].required && !x.fields[1].required);
        assert_eq!(
            (x.fields[1].ty.schema.as_deref(), x.fields[1].ty.after.as_str()),
            (Some("Y"), "or null")
        );
        assert_eq!(
            (x.fields[2].ty.before.as_str(), x.fields[2].ty.after.as_str()),
            ("string (date)", "or null")
        );
        assert_eq!(r.schemas[1].kind, "one of p, q");
    }
}
