//! The document shell, the root component and the routes.

use crate::components::layout::AppShell;
use crate::context::provide_auth;
use crate::pages::{
    api_reference::ApiReferencePage,
    audit::AuditPage,
    customers::{CustomerPage, CustomersPage, MappingConfirmPage, NewCustomerPage},
    finance::FinanceHome,
    home::HomeRedirect,
    ingestion::IngestionPage,
    invoices::InvoicesPage,
    mappings::MappingsPage,
    meters::MetersPage,
    not_found::NotFound,
    operator::OperatorHome,
    people::PeoplePage,
    portal::PortalHome,
    portal_usage::PortalUsagePage,
    price_sheets::{PriceSheetPage, PriceSheetsPage},
    registrations::{RegistrationPage, RegistrationsPage},
    sign_in::SignInPage,
    user_subscriptions::UserSubscriptionsPage,
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around the application (server-rendered only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The inline hydration script carries this response's CSP nonce.
    #[cfg(feature = "ssr")]
    crate::ssr::csp::provide_request_nonce();
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.ico"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_auth();

    // Set once the page is interactive; end-to-end tests wait for it.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    // Every route renders completely before the response starts (SsrMode::Async), so a
    // page can still answer 403/404 or redirect to the sign-in page.
    view! {
        <Stylesheet id="leptos" href="/pkg/stackbill.css"/>
        <div id="app" data-hydrated=move || hydrated.get().to_string()>
            <Router>
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async/>
                    <ParentRoute path=path!("") view=AppShell ssr=SsrMode::Async>
                        <Route path=path!("") view=HomeRedirect ssr=SsrMode::Async/>
                        <Route path=path!("operator") view=OperatorHome ssr=SsrMode::Async/>
                        <Route path=path!("operator/customers") view=CustomersPage ssr=SsrMode::Async/>
                        <Route path=path!("operator/customers/new") view=NewCustomerPage ssr=SsrMode::Async/>
                        <Route path=path!("operator/customers/:id") view=CustomerPage ssr=SsrMode::Async/>
                        <Route path=path!("operator/customers/:id/mapping") view=MappingConfirmPage ssr=SsrMode::Async/>
                        <Route path=path!("operator/user-subscriptions") view=UserSubscriptionsPage ssr=SsrMode::Async/>
                        <Route path=path!("operator/audit") view=AuditPage ssr=SsrMode::Async/>
                        <Route path=path!("operator/mappings") view=MappingsPage ssr=SsrMode::Async/>
                        <Route path=path!("operator/users") view=PeoplePage ssr=SsrMode::Async/>
                        <Route path=path!("operator/ingestion") view=IngestionPage ssr=SsrMode::Async/>
                        <Route path=path!("operator/registrations") view=RegistrationsPage ssr=SsrMode::Async/>
                        <Route path=path!("operator/registrations/:id") view=RegistrationPage ssr=SsrMode::Async/>
                        <Route path=path!("finance") view=FinanceHome ssr=SsrMode::Async/>
                        <Route path=path!("finance/invoices") view=InvoicesPage ssr=SsrMode::Async/>
                        <Route path=path!("portal") view=PortalHome ssr=SsrMode::Async/>
                        <Route path=path!("portal/usage") view=PortalUsagePage ssr=SsrMode::Async/>
                        <Route path=path!("meters") view=MetersPage ssr=SsrMode::Async/>
                        <Route path=path!("api-reference") view=ApiReferencePage ssr=SsrMode::Async/>
                        <Route path=path!("operator/price-sheets") view=PriceSheetsPage ssr=SsrMode::Async/>
                        <Route path=path!("operator/price-sheets/:id") view=PriceSheetPage ssr=SsrMode::Async/>
                    </ParentRoute>
                </Routes>
            </Router>
        </div>
    }
}
