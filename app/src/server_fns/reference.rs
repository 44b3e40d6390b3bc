//! The API reference page's data.

use crate::error::AppError;
use crate::types::ApiReference;
use leptos::prelude::*;

/// The `/api/v1` reference, read from the OpenAPI document the server generated. Open to
/// anyone, like `/api/openapi.json`: it describes the API and holds no data.
#[server(prefix = "/api/fn", endpoint = "api_reference")]
pub async fn get_api_reference() -> Result<ApiReference, AppError> {
    crate::ssr::services::api_reference::reference()
}
