//! The signed-in layout: header with role-aware navigation, then the page.

use crate::context::use_auth;
use crate::i18n::{text, Locale, Msg};
use crate::server_fns::account::Visitor;
use crate::types::{CurrentUser, Role};
use leptos::prelude::*;
use leptos_meta::Html;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_location;

/// The Stackbill word mark.
#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <a class="brand" href="/">
            <span class="brand-mark" aria-hidden="true">"S"</span>
            <span class="brand-name">"Stackbill"</span>
        </a>
    }
}

fn nav_items(role: Role) -> Vec<(&'static str, Msg)> {
    match role {
        Role::Operator => vec![
            ("/operator", Msg::NavOverview),
            ("/operator/customers", Msg::NavCustomers),
            ("/operator/user-subscriptions", Msg::NavUserSubscriptions),
            ("/finance", Msg::NavFinance),
            ("/finance/invoices", Msg::NavInvoices),
            ("/meters", Msg::NavMeters),
            ("/operator/price-sheets", Msg::NavPriceSheets),
            ("/operator/users", Msg::NavUsers),
            ("/operator/audit", Msg::NavAudit),
            ("/api-reference", Msg::NavApi),
        ],
        Role::Finance => vec![
            ("/finance", Msg::NavOverview),
            ("/finance/invoices", Msg::NavInvoices),
            ("/operator/customers", Msg::NavCustomers),
            ("/operator/user-subscriptions", Msg::NavUserSubscriptions),
            ("/meters", Msg::NavMeters),
            ("/operator/price-sheets", Msg::NavPriceSheets),
            ("/operator/users", Msg::NavUsers),
            ("/operator/audit", Msg::NavAudit),
            ("/api-reference", Msg::NavApi),
        ],
        Role::Customer => vec![
            ("/portal", Msg::NavOverview),
            ("/portal/usage", Msg::NavUsage),
            ("/api-reference", Msg::NavApi),
        ],
        Role::Ingest => vec![],
    }
}

fn role_label(role: Role) -> Msg {
    match role {
        Role::Operator | Role::Ingest => Msg::RoleOperator,
        Role::Finance => Msg::RoleFinance,
        Role::Customer => Msg::RoleCustomer,
    }
}

/// The layout of every signed-in page. Sends visitors who are not signed in to the
/// sign-in page (a redirect, on the server too).
#[component]
pub fn AppShell() -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    view! {
        <Suspense fallback=|| view! { <div class="loading-page"></div> }>
            {move || Suspend::new(async move {
                match auth.visitor.await {
                    Ok(Visitor { user: Some(user), locale }) => view! { <SignedInLayout user locale/> }.into_any(),
                    _ => {
                        let here = location.pathname.get_untracked();
                        let target = if here == "/" || here.is_empty() {
                            "/sign-in".to_owned()
                        } else {
                            format!("/sign-in?next={here}")
                        };
                        view! { <Redirect path=target/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn SignedInLayout(user: CurrentUser, locale: Locale) -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    let items = nav_items(user.role);
    let who = user
        .customer_name
        .clone()
        .unwrap_or_else(|| text(locale, role_label(user.role)).to_owned());
    view! {
        <Html {..} lang=locale.tag()/>
        <header class="topbar">
            <div class="topbar-inner">
                <Brand/>
                <nav class="mainnav" aria-label="Main">
                    {items
                        .into_iter()
                        .map(|(href, msg)| {
                            // A section stays highlighted on its detail pages; the
                            // overview only on itself.
                            let current = move || {
                                let here = location.pathname.get();
                                here == href || (href != "/operator" && href != "/finance" && here.starts_with(&format!("{href}/")))
                            };
                            view! {
                                <A href=href attr:class=move || if current() { "navlink active" } else { "navlink" }>
                                    {text(locale, msg)}
                                </A>
                            }
                        })
                        .collect_view()}
                </nav>
                <div class="usermenu">
                    <div class="userinfo">
                        <span class="username" data-testid="user-name">{user.display_name.clone()}</span>
                        <span class="userrole" data-testid="user-role">{who}</span>
                    </div>
                    <ActionForm action=auth.sign_out>
                        <button type="submit" class="btn btn-quiet" data-testid="sign-out">
                            {text(locale, Msg::SignOut)}
                        </button>
                    </ActionForm>
                </div>
            </div>
        </header>
        <main class="page">
            <Outlet/>
        </main>
    }
}
