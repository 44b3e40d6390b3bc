//! The API reference page's data: the OpenAPI document of `/api/v1` read into what a
//! person scans — operations by tag with their parameters, bodies and answers, and the
//! schemas they name.

use serde::{Deserialize, Serialize};

/// The whole reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiReference {
    /// The API's title and version (`Stackbill API 1`).
    pub title: String,
    /// The OpenAPI version of the document.
    pub openapi: String,
    /// The introduction (Markdown-light: paragraphs).
    pub description: Vec<String>,
    /// Operations grouped by tag, in the document's tag order.
    pub sections: Vec<ApiSection>,
    /// Every named schema, by name.
    pub schemas: Vec<ApiSchema>,
}

/// The operations of one tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiSection {
    /// The tag.
    pub name: String,
    /// What the tag is about.
    pub description: String,
    /// Its operations.
    pub operations: Vec<ApiOperation>,
}

/// One method on one path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiOperation {
    /// The anchor (`operationId`).
    pub id: String,
    /// `GET`, `POST`, …
    pub method: String,
    /// `/api/v1/customers/{id}`.
    pub path: String,
    /// One line.
    pub summary: String,
    /// More, when the code says more.
    pub description: String,
    /// Path, query and header parameters.
    pub params: Vec<ApiParam>,
    /// The request body, as `type (media type)` for each media type taken.
    pub body: Vec<ApiType>,
    /// Whether the body is required.
    pub body_required: bool,
    /// Answers by status.
    pub responses: Vec<ApiResponse>,
}

/// A parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiParam {
    /// Its name.
    pub name: String,
    /// `path`, `query` or `header`.
    pub location: String,
    /// Required.
    pub required: bool,
    /// Its type.
    pub ty: ApiType,
    /// What it means.
    pub description: String,
}

/// A type as written for people: `before`, then the named schema it refers to (a link),
/// then `after` — `array of` `Customer` `or null`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApiType {
    /// The text before the schema's name (all of it when there is no schema).
    pub before: String,
    /// The named schema it refers to, if any.
    pub schema: Option<String>,
    /// The text after the schema's name.
    pub after: String,
    /// The media type (bodies and answers; empty elsewhere).
    pub media: String,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiResponse {
    /// `200`, `404`, …
    pub status: String,
    /// What it means.
    pub description: String,
    /// Its body, for each media type.
    pub content: Vec<ApiType>,
}

/// A named schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiSchema {
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Its type when it is not an object (`string`, `one of: …`).
    pub kind: String,
    /// Its properties, for objects.
    pub fields: Vec<ApiField>,
}

/// A property of an object schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiField {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: ApiType,
    /// Required.
    pub required: bool,
    /// What it means.
    pub description: String,
}
