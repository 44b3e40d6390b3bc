//! `/operator/users`: people and API tokens — add users (role, customer, language; the
//! password given or generated and shown once), disable or enable, reset a password, end
//! every session; create tokens (shown once) and revoke them. The same services as
//! `stackbill user …` and `stackbill token …`. Destructive actions ask first (a second
//! button inside a fold), which works with or without JavaScript.

use crate::components::form::{form_error, success_count, FormAlert, TextField};
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable};
use crate::context::use_can_edit;
use crate::error::AppError;
use crate::i18n::{format_datetime, text, Locale, Msg};
use crate::server_fns::console::{
    get_people, AddToken, AddUser, EndUserSessions, ResetUserPassword, RevokeApiToken, SetUserEnabled,
};
use crate::types::{People, ShownOnce};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

/// Every action of the screen, created once so the list reloads after any of them.
#[derive(Clone, Copy)]
struct Actions {
    add_user: ServerAction<AddUser>,
    enable: ServerAction<SetUserEnabled>,
    reset: ServerAction<ResetUserPassword>,
    end_sessions: ServerAction<EndUserSessions>,
    add_token: ServerAction<AddToken>,
    revoke: ServerAction<RevokeApiToken>,
}

/// The users and tokens screen.
#[component]
pub fn PeoplePage() -> impl IntoView {
    let a = Actions {
        add_user: ServerAction::new(),
        enable: ServerAction::new(),
        reset: ServerAction::new(),
        end_sessions: ServerAction::new(),
        add_token: ServerAction::new(),
        revoke: ServerAction::new(),
    };
    let changes = (
        success_count(a.add_user.value()),
        success_count(a.enable.value()),
        success_count(a.reset.value()),
        success_count(a.end_sessions.value()),
        success_count(a.add_token.value()),
        success_count(a.revoke.value()),
    );
    let data = Resource::new(
        move || {
            (
                changes.0.get(),
                changes.1.get(),
                changes.2.get(),
                changes.3.get(),
                changes.4.get(),
                changes.5.get(),
            )
        },
        |_| get_people(),
    );
    view! {
        <Title text="Users and tokens · Stackbill"/>
        <DataPage data view=move |p, locale| view! { <PeopleView p a locale/> }/>
    }
}

/// The secret an action returned, shown once.
fn shown_once(locale: Locale, s: Option<ShownOnce>) -> impl IntoView {
    s.map(|s| {
        view! {
            <div class="note secret" role="status" data-testid="shown-once">
                <strong>{s.of}</strong>": "
                <code data-testid="secret">{s.secret}</code>
                <p>{text(locale, Msg::ShownOnce)}</p>
            </div>
        }
    })
}

fn ok<T: Clone>(v: Option<Result<T, AppError>>) -> Option<T> {
    v.and_then(Result::ok)
}

#[component]
fn PeopleView(p: People, a: Actions, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let can_edit = use_can_edit();
    let user_error = form_error(a.add_user.value(), AddUser::PATH);
    let token_error = form_error(a.add_token.value(), AddToken::PATH);
    let row_errors = [
        form_error(a.enable.value(), SetUserEnabled::PATH),
        form_error(a.reset.value(), ResetUserPassword::PATH),
        form_error(a.end_sessions.value(), EndUserSessions::PATH),
        form_error(a.revoke.value(), RevokeApiToken::PATH),
    ];
    let row_error = Signal::derive(move || row_errors.iter().find_map(|e| e.get()));
    let when = move |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|at| format_datetime(at, locale))
            .unwrap_or_else(|| t(Msg::Never).to_owned())
    };
    let user_rows: Vec<Vec<AnyView>> = p
        .users
        .iter()
        .map(|u| {
            let status = if u.disabled {
                view! { <span class="badge badge-muted">{t(Msg::Disabled)}</span> }.into_any()
            } else {
                view! { <span class="badge badge-ok">{t(Msg::Enabled)}</span> }.into_any()
            };
            let mut cells = vec![
                u.email.clone().into_any(),
                u.display_name.clone().into_any(),
                u.role.clone().into_any(),
                u.customer.clone().unwrap_or_default().into_any(),
                when(u.last_sign_in_at).into_any(),
                status,
            ];
            if can_edit {
                let (id, disabled) = (u.id, u.disabled);
                cells.push(
                    view! {
                        <div class="row-actions">
                            <ActionForm action=a.enable attr:class="inline-form">
                                <input type="hidden" name="id" value=id/>
                                <input type="hidden" name="enabled" value=disabled.to_string()/>
                                <button type="submit" class="btn" data-testid="user-toggle">
                                    {if disabled { t(Msg::Enable) } else { t(Msg::Disable) }}
                                </button>
                            </ActionForm>
                            <details class="row-action">
                                <summary>{t(Msg::ResetPassword)}</summary>
                                <ActionForm action=a.reset attr:class="inline-form">
                                    <input type="hidden" name="id" value=id/>
                                    <input type="password" name="password" autocomplete="new-password"
                                        aria-label=t(Msg::NewPasswordOptional) placeholder=t(Msg::NewPasswordOptional)/>
                                    <button type="submit" class="btn btn-danger" data-testid="user-reset">{t(Msg::ResetPassword)}</button>
                                </ActionForm>
                            </details>
                            <details class="row-action">
                                <summary>{t(Msg::SignOutEverywhere)}</summary>
                                <ActionForm action=a.end_sessions attr:class="inline-form">
                                    <input type="hidden" name="id" value=id/>
                                    <button type="submit" class="btn btn-danger">{t(Msg::ConfirmChange)}</button>
                                </ActionForm>
                            </details>
                        </div>
                    }
                    .into_any(),
                );
            }
            cells
        })
        .collect();
    let mut user_columns = vec![
        Column::text(t(Msg::Email)),
        Column::text(t(Msg::NameCol)),
        Column::text(t(Msg::RoleCol)),
        Column::text(t(Msg::Customer)),
        Column::text(t(Msg::LastSignIn)),
        Column::text(t(Msg::Status)),
    ];
    let token_rows: Vec<Vec<AnyView>> = p
        .tokens
        .iter()
        .map(|k| {
            let status = if k.revoked {
                view! { <span class="badge badge-muted">{t(Msg::Revoked)}</span> }.into_any()
            } else {
                view! { <span class="badge badge-ok">{t(Msg::Enabled)}</span> }.into_any()
            };
            let scope = k.customer.clone().or_else(|| k.registration.clone()).unwrap_or_default();
            let mut cells = vec![
                k.name.clone().into_any(),
                view! { <code>{k.prefix.clone()}"…"</code> }.into_any(),
                k.role.clone().into_any(),
                scope.into_any(),
                when(k.last_used_at).into_any(),
                k.expires_at.map(|at| format_datetime(at, locale)).unwrap_or_else(|| t(Msg::NeverExpires).to_owned()).into_any(),
                status,
            ];
            if can_edit && !k.revoked {
                let id = k.id;
                cells.push(
                    view! {
                        <details class="row-action">
                            <summary data-testid="token-revoke-open">{t(Msg::Revoke)}</summary>
                            <ActionForm action=a.revoke attr:class="inline-form">
                                <input type="hidden" name="id" value=id/>
                                <button type="submit" class="btn btn-danger" data-testid="token-revoke">{t(Msg::ConfirmChange)}</button>
                            </ActionForm>
                        </details>
                    }
                    .into_any(),
                );
            } else if can_edit {
                cells.push("".into_any());
            }
            cells
        })
        .collect();
    let mut token_columns = vec![
        Column::text(t(Msg::NameCol)),
        Column::text(t(Msg::TokenPrefix)),
        Column::text(t(Msg::RoleCol)),
        Column::text(t(Msg::Scope)),
        Column::text(t(Msg::LastUsed)),
        Column::text(t(Msg::Expires)),
        Column::text(t(Msg::Status)),
    ];
    if can_edit {
        user_columns.push(Column::text(t(Msg::Change)));
        token_columns.push(Column::text(t(Msg::Change)));
    }
    let role_select = move |id: &'static str, with_ingest: bool| {
        let mut roles = vec!["operator", "finance", "customer"];
        if with_ingest {
            roles.push("ingest");
        }
        view! {
            <div class="field">
                <label for=id>{t(Msg::RoleCol)}</label>
                <select id=id name="form[role]">
                    {roles.into_iter().map(|r| view! { <option value=r>{r}</option> }).collect_view()}
                </select>
            </div>
        }
    };
    view! {
        <div class="page-head"><h1>{t(Msg::UsersAndTokens)}</h1></div>
        {move || shown_once(locale, ok(a.add_user.value().get()).flatten())}
        {move || shown_once(locale, ok(a.reset.value().get()).flatten())}
        {move || shown_once(locale, ok(a.add_token.value().get()))}
        <FormAlert error=row_error fields=&[]/>
        <section class="panel">
            <h2>{t(Msg::Users)}</h2>
            <DataTable columns=user_columns rows=user_rows empty="" testid="users-table"/>
            {can_edit.then(|| view! {
                <details class="edit">
                    <summary class="btn" data-testid="add-user-open">{t(Msg::AddUser)}</summary>
                    <ActionForm action=a.add_user attr:class="form form-grid" attr:data-testid="add-user-form">
                        <TextField label=t(Msg::Email) name="form[email]" field="email" value="" error=user_error kind="email" required=true testid="user-email"/>
                        <TextField label=t(Msg::NameCol) name="form[display_name]" field="display_name" value="" error=user_error/>
                        {role_select("user-role", false)}
                        <TextField label=t(Msg::CustomerForCustomerUsers) name="form[customer]" field="customer" value="" error=user_error testid="user-customer"/>
                        <TextField label=t(Msg::NewPasswordOptional) name="form[password]" field="password" value="" error=user_error kind="password"/>
                        <div class="field">
                            <label for="user-locale">{t(Msg::Language)}</label>
                            <select id="user-locale" name="form[locale]">
                                {Locale::ALL.iter().map(|l| view! { <option value=l.tag()>{l.native_name()}</option> }).collect_view()}
                            </select>
                        </div>
                        <FormAlert error=user_error fields=&["email", "display_name", "customer", "password"]/>
                        <div class="form-actions">
                            <button type="submit" class="btn btn-primary" data-testid="add-user">{t(Msg::AddUser)}</button>
                        </div>
                    </ActionForm>
                </details>
            })}
        </section>
        <section class="panel">
            <h2>{t(Msg::ApiTokens)}</h2>
            <DataTable columns=token_columns rows=token_rows empty="" testid="tokens-table"/>
            {can_edit.then(|| view! {
                <details class="edit">
                    <summary class="btn" data-testid="add-token-open">{t(Msg::AddToken)}</summary>
                    <ActionForm action=a.add_token attr:class="form form-grid" attr:data-testid="add-token-form">
                        <TextField label=t(Msg::NameCol) name="form[name]" field="name" value="" error=token_error required=true testid="token-name"/>
                        {role_select("token-role", true)}
                        <TextField label=t(Msg::CustomerForCustomerUsers) name="form[customer]" field="customer" value="" error=token_error/>
                        <TextField label=t(Msg::RegistrationForIngest) name="form[registration]" field="registration" value="" error=token_error/>
                        <TextField label=t(Msg::Lifetime) name="form[expires_in]" field="expires_in" value="" error=token_error hint="90d, 12h, 1y, never"/>
                        <FormAlert error=token_error fields=&["name", "customer", "registration", "expires_in"]/>
                        <div class="form-actions">
                            <button type="submit" class="btn btn-primary" data-testid="add-token">{t(Msg::AddToken)}</button>
                        </div>
                    </ActionForm>
                </details>
            })}
        </section>
    }
}
