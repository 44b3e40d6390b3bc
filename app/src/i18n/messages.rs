//! The catalogue of interface text.
//!
//! Every string a person reads comes from here. English is complete; the customer-facing
//! texts (sign-in, navigation, errors, the customer portal) are also in French, Dutch and
//! both Chinese scripts. A missing translation falls back to English, so adding a
//! language or a string never breaks a page.

use super::Locale;

/// A piece of interface text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Msg {
    // Shell
    Tagline,
    NavOverview,
    NavFinance,
    NavMeters,
    SignOut,
    RoleOperator,
    RoleFinance,
    RoleCustomer,
    Loading,
    // Sign-in
    SignInTitle,
    Email,
    Password,
    SignInButton,
    SigningIn,
    // Errors
    NotFoundTitle,
    NotFoundBody,
    ForbiddenTitle,
    ForbiddenBody,
    ErrorTitle,
    BackHome,
    // Customer portal
    PortalTitle,
    CloudTenant,
    BillingSubscriptions,
    BilledThroughProvider,
    StackSubscriptions,
    NoStackSubscriptions,
    Registration,
    Subscription,
    Name,
    State,
    Since,
    RecordsThisMonth,
    // Operator
    OperatorTitle,
    Registrations,
    RegistrationName,
    Customers,
    MappedTenants,
    UnmappedTenants,
    UserSubscriptions,
    Unassigned,
    UsageRecords,
    Meters,
    LastIngestion,
    LatestUsage,
    Never,
    NoRegistrations,
    BaseSubscription,
    Currency,
    DefaultPriceSheet,
    NoPriceSheet,
    // Finance
    FinanceTitle,
    Period,
    Status,
    InProgress,
    ReadyToInvoice,
    SubscriptionsWithUsage,
    UsageDays,
    NoUsageYet,
    // Meters
    MetersTitle,
    MeterId,
    Unit,
    Service,
    Billing,
    Billable,
    ReportOnly,
    Origin,
    Discovered,
    FromCatalogue,
    // Cost
    CostTitle,
    MonthToDate,
    Forecast,
    LastMonth,
    BillingAccount,
    Customer,
    CustomerSubscriptionKind,
    BaseAccountKind,
    UnpricedUsage,
    UnpricedNote,
    CostUnavailable,
    CostByAccount,
    CostByCustomer,
    NoCostYet,
    BilledTo,
    TenantWithoutCustomer,
    NotAvailable,
    PeriodsWithUsage,
}

/// The text of a message in a locale (English when not translated).
pub fn text(locale: Locale, msg: Msg) -> &'static str {
    let translated = match locale {
        Locale::En => None,
        Locale::Fr => fr(msg),
        Locale::Nl => nl(msg),
        Locale::ZhTw => zh_tw(msg),
        Locale::ZhCn => zh_cn(msg),
    };
    translated.unwrap_or_else(|| en(msg))
}

fn en(msg: Msg) -> &'static str {
    use Msg::*;
    match msg {
        Tagline => "Chargeback and billing for Azure Stack Hub",
        NavOverview => "Overview",
        NavFinance => "Billing periods",
        NavMeters => "Meters",
        SignOut => "Sign out",
        RoleOperator => "Operator",
        RoleFinance => "Finance",
        RoleCustomer => "Customer",
        Loading => "Loading…",
        SignInTitle => "Sign in",
        Email => "Email",
        Password => "Password",
        SignInButton => "Sign in",
        SigningIn => "Signing in…",
        NotFoundTitle => "Page not found",
        NotFoundBody => "There is nothing at this address. Check the link or go back to your overview.",
        ForbiddenTitle => "No access",
        ForbiddenBody => "Your account does not have access to this page.",
        ErrorTitle => "Something went wrong",
        BackHome => "Back to your overview",
        PortalTitle => "Your Azure Stack Hub usage",
        CloudTenant => "Directory (cloud tenant)",
        BillingSubscriptions => "Billing subscriptions",
        BilledThroughProvider => "Your usage is billed through your provider's main subscription.",
        StackSubscriptions => "Your subscriptions on Azure Stack Hub",
        NoStackSubscriptions => "No subscriptions on Azure Stack Hub yet.",
        Registration => "Azure Stack Hub",
        Subscription => "Subscription",
        Name => "Name",
        State => "State",
        Since => "Since",
        RecordsThisMonth => "Usage records this month",
        OperatorTitle => "Operations overview",
        Registrations => "Registrations",
        RegistrationName => "Registration",
        Customers => "Customers",
        MappedTenants => "Mapped cloud tenants",
        UnmappedTenants => "Tenants on a base subscription",
        UserSubscriptions => "User subscriptions",
        Unassigned => "unassigned",
        UsageRecords => "Usage records",
        Meters => "Meters",
        LastIngestion => "Last ingestion",
        LatestUsage => "Latest usage day",
        Never => "never",
        NoRegistrations => "No registrations yet.",
        BaseSubscription => "Base subscription",
        Currency => "Currency",
        DefaultPriceSheet => "Default price sheet",
        NoPriceSheet => "none",
        FinanceTitle => "Billing periods",
        Period => "Period",
        Status => "Status",
        InProgress => "In progress",
        ReadyToInvoice => "Ready to invoice",
        SubscriptionsWithUsage => "Subscriptions with usage",
        UsageDays => "Usage days",
        NoUsageYet => "No usage has been ingested yet.",
        MetersTitle => "Meter catalogue",
        MeterId => "Meter ID",
        Unit => "Unit",
        Service => "Service",
        Billing => "Billing",
        Billable => "Billable",
        ReportOnly => "Report only",
        Origin => "Origin",
        Discovered => "Discovered in usage",
        FromCatalogue => "Usage FAQ",
        CostTitle => "Cost",
        MonthToDate => "This month so far",
        Forecast => "Forecast for the month",
        LastMonth => "Last month",
        BillingAccount => "Billing account",
        Customer => "Customer",
        CustomerSubscriptionKind => "Customer subscription",
        BaseAccountKind => "Provider's base subscription",
        UnpricedUsage => "Unpriced usage",
        UnpricedNote => "Usage of these meters has no price yet and is not included in the figures:",
        CostUnavailable => "Cost cannot be computed right now",
        CostByAccount => "By billing account",
        CostByCustomer => "By customer",
        NoCostYet => "No usage this month or last month.",
        BilledTo => "Billed to",
        TenantWithoutCustomer => "Cloud tenant without a customer record",
        NotAvailable => "—",
        PeriodsWithUsage => "Months with usage",
    }
}

fn fr(msg: Msg) -> Option<&'static str> {
    use Msg::*;
    Some(match msg {
        Tagline => "Refacturation et facturation pour Azure Stack Hub",
        NavOverview => "Vue d’ensemble",
        SignOut => "Se déconnecter",
        RoleOperator => "Opérateur",
        RoleFinance => "Finance",
        RoleCustomer => "Client",
        Loading => "Chargement…",
        SignInTitle => "Connexion",
        Email => "Adresse e-mail",
        Password => "Mot de passe",
        SignInButton => "Se connecter",
        SigningIn => "Connexion…",
        NotFoundTitle => "Page introuvable",
        NotFoundBody => "Il n’y a rien à cette adresse. Vérifiez le lien ou revenez à votre vue d’ensemble.",
        ForbiddenTitle => "Accès refusé",
        ForbiddenBody => "Votre compte n’a pas accès à cette page.",
        ErrorTitle => "Une erreur est survenue",
        BackHome => "Retour à la vue d’ensemble",
        PortalTitle => "Votre consommation Azure Stack Hub",
        CloudTenant => "Annuaire (locataire cloud)",
        BillingSubscriptions => "Abonnements de facturation",
        BilledThroughProvider => "Votre consommation est facturée via l’abonnement principal de votre fournisseur.",
        StackSubscriptions => "Vos abonnements sur Azure Stack Hub",
        NoStackSubscriptions => "Aucun abonnement sur Azure Stack Hub pour l’instant.",
        Subscription => "Abonnement",
        Name => "Nom",
        State => "État",
        Since => "Depuis",
        RecordsThisMonth => "Relevés de consommation ce mois-ci",
        CostTitle => "Coûts",
        MonthToDate => "Ce mois-ci à ce jour",
        Forecast => "Prévision pour le mois",
        LastMonth => "Mois dernier",
        BillingAccount => "Compte de facturation",
        Customer => "Client",
        CustomerSubscriptionKind => "Abonnement client",
        BaseAccountKind => "Abonnement principal du fournisseur",
        UnpricedUsage => "Consommation sans prix",
        UnpricedNote => {
            "La consommation de ces compteurs n’a pas encore de prix et n’est pas comprise dans les montants :"
        }
        CostUnavailable => "Les coûts ne peuvent pas être calculés pour le moment",
        NoCostYet => "Aucune consommation ce mois-ci ni le mois dernier.",
        BilledTo => "Facturé à",
        _ => return None,
    })
}

fn nl(msg: Msg) -> Option<&'static str> {
    use Msg::*;
    Some(match msg {
        Tagline => "Doorbelasting en facturatie voor Azure Stack Hub",
        NavOverview => "Overzicht",
        SignOut => "Afmelden",
        RoleOperator => "Beheerder",
        RoleFinance => "Financiën",
        RoleCustomer => "Klant",
        Loading => "Laden…",
        SignInTitle => "Aanmelden",
        Email => "E-mailadres",
        Password => "Wachtwoord",
        SignInButton => "Aanmelden",
        SigningIn => "Bezig met aanmelden…",
        NotFoundTitle => "Pagina niet gevonden",
        NotFoundBody => "Op dit adres staat niets. Controleer de link of ga terug naar uw overzicht.",
        ForbiddenTitle => "Geen toegang",
        ForbiddenBody => "Uw account heeft geen toegang tot deze pagina.",
        ErrorTitle => "Er ging iets mis",
        BackHome => "Terug naar uw overzicht",
        PortalTitle => "Uw verbruik van Azure Stack Hub",
        CloudTenant => "Directory (cloudtenant)",
        BillingSubscriptions => "Factuurabonnementen",
        BilledThroughProvider => "Uw verbruik wordt gefactureerd via het hoofdabonnement van uw provider.",
        StackSubscriptions => "Uw abonnementen op Azure Stack Hub",
        NoStackSubscriptions => "Nog geen abonnementen op Azure Stack Hub.",
        Subscription => "Abonnement",
        Name => "Naam",
        State => "Status",
        Since => "Sinds",
        RecordsThisMonth => "Verbruiksregels deze maand",
        CostTitle => "Kosten",
        MonthToDate => "Deze maand tot nu toe",
        Forecast => "Prognose voor de maand",
        LastMonth => "Vorige maand",
        BillingAccount => "Factuuraccount",
        Customer => "Klant",
        CustomerSubscriptionKind => "Klantabonnement",
        BaseAccountKind => "Hoofdabonnement van de provider",
        UnpricedUsage => "Verbruik zonder prijs",
        UnpricedNote => "Het verbruik van deze meters heeft nog geen prijs en zit niet in de bedragen:",
        CostUnavailable => "De kosten kunnen nu niet worden berekend",
        NoCostYet => "Geen verbruik deze maand of vorige maand.",
        BilledTo => "Gefactureerd aan",
        _ => return None,
    })
}

fn zh_tw(msg: Msg) -> Option<&'static str> {
    use Msg::*;
    Some(match msg {
        Tagline => "Azure Stack Hub 成本分攤與計費",
        NavOverview => "總覽",
        SignOut => "登出",
        RoleOperator => "營運人員",
        RoleFinance => "財務",
        RoleCustomer => "客戶",
        Loading => "載入中…",
        SignInTitle => "登入",
        Email => "電子郵件",
        Password => "密碼",
        SignInButton => "登入",
        SigningIn => "登入中…",
        NotFoundTitle => "找不到頁面",
        NotFoundBody => "此網址沒有內容。請檢查連結或返回總覽。",
        ForbiddenTitle => "無權存取",
        ForbiddenBody => "您的帳戶無權存取此頁面。",
        ErrorTitle => "發生錯誤",
        BackHome => "返回總覽",
        PortalTitle => "您的 Azure Stack Hub 使用量",
        CloudTenant => "目錄（雲端租用戶）",
        BillingSubscriptions => "計費訂用帳戶",
        BilledThroughProvider => "您的使用量透過服務供應商的主要訂用帳戶計費。",
        StackSubscriptions => "您在 Azure Stack Hub 上的訂用帳戶",
        NoStackSubscriptions => "目前在 Azure Stack Hub 上沒有訂用帳戶。",
        Subscription => "訂用帳戶",
        Name => "名稱",
        State => "狀態",
        Since => "起始日",
        RecordsThisMonth => "本月使用量紀錄",
        CostTitle => "費用",
        MonthToDate => "本月至今",
        Forecast => "本月預估",
        LastMonth => "上個月",
        BillingAccount => "計費帳戶",
        Customer => "客戶",
        CustomerSubscriptionKind => "客戶訂用帳戶",
        BaseAccountKind => "服務供應商的主要訂用帳戶",
        UnpricedUsage => "未定價的使用量",
        UnpricedNote => "下列計量的使用量尚未定價，未計入金額：",
        CostUnavailable => "目前無法計算費用",
        NoCostYet => "本月與上個月皆無使用量。",
        BilledTo => "計費對象",
        _ => return None,
    })
}

fn zh_cn(msg: Msg) -> Option<&'static str> {
    use Msg::*;
    Some(match msg {
        Tagline => "Azure Stack Hub 成本分摊与计费",
        NavOverview => "概览",
        SignOut => "退出登录",
        RoleOperator => "运营人员",
        RoleFinance => "财务",
        RoleCustomer => "客户",
        Loading => "加载中…",
        SignInTitle => "登录",
        Email => "电子邮箱",
        Password => "密码",
        SignInButton => "登录",
        SigningIn => "正在登录…",
        NotFoundTitle => "页面不存在",
        NotFoundBody => "此地址没有内容。请检查链接或返回概览。",
        ForbiddenTitle => "无权访问",
        ForbiddenBody => "您的账户无权访问此页面。",
        ErrorTitle => "出现错误",
        BackHome => "返回概览",
        PortalTitle => "您的 Azure Stack Hub 用量",
        CloudTenant => "目录（云租户）",
        BillingSubscriptions => "计费订阅",
        BilledThroughProvider => "您的用量通过服务提供商的主订阅计费。",
        StackSubscriptions => "您在 Azure Stack Hub 上的订阅",
        NoStackSubscriptions => "目前在 Azure Stack Hub 上没有订阅。",
        Subscription => "订阅",
        Name => "名称",
        State => "状态",
        Since => "起始日期",
        RecordsThisMonth => "本月用量记录",
        CostTitle => "费用",
        MonthToDate => "本月至今",
        Forecast => "本月预测",
        LastMonth => "上个月",
        BillingAccount => "计费账户",
        Customer => "客户",
        CustomerSubscriptionKind => "客户订阅",
        BaseAccountKind => "服务提供商的主订阅",
        UnpricedUsage => "未定价的用量",
        UnpricedNote => "以下计量的用量尚未定价，未计入金额：",
        CostUnavailable => "目前无法计算费用",
        NoCostYet => "本月和上个月均无用量。",
        BilledTo => "计费对象",
        _ => return None,
    })
}

/// "Try again in N minutes", for the throttled sign-in.
pub fn retry_in_minutes(locale: Locale, seconds: u64) -> String {
    let minutes = seconds.div_ceil(60).max(1);
    match locale {
        Locale::En => format!("Too many failed attempts. Try again in {minutes} min."),
        Locale::Fr => format!("Trop de tentatives échouées. Réessayez dans {minutes} min."),
        Locale::Nl => {
            format!("Te veel mislukte pogingen. Probeer het over {minutes} min. opnieuw.")
        }
        Locale::ZhTw => format!("失敗次數過多，請於 {minutes} 分鐘後再試。"),
        Locale::ZhCn => format!("失败次数过多，请在 {minutes} 分钟后重试。"),
    }
}

/// "… and N more" under a table that lists only the largest rows.
pub fn and_more(locale: Locale, n: usize) -> String {
    match locale {
        Locale::En => format!("… and {n} more."),
        Locale::Fr => format!("… et {n} de plus."),
        Locale::Nl => format!("… en nog {n}."),
        Locale::ZhTw => format!("……另有 {n} 筆。"),
        Locale::ZhCn => format!("……另有 {n} 条。"),
    }
}

/// "The email or password is not correct."
pub fn invalid_credentials(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "The email or password is not correct.",
        Locale::Fr => "L’adresse e-mail ou le mot de passe est incorrect.",
        Locale::Nl => "Het e-mailadres of wachtwoord is onjuist.",
        Locale::ZhTw => "電子郵件或密碼不正確。",
        Locale::ZhCn => "电子邮箱或密码不正确。",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untranslated_messages_fall_back_to_english() {
        assert_eq!(text(Locale::Fr, Msg::OperatorTitle), "Operations overview");
        assert_eq!(text(Locale::ZhTw, Msg::SignInTitle), "登入");
        assert_eq!(text(Locale::En, Msg::SignInTitle), "Sign in");
        assert_eq!(
            retry_in_minutes(Locale::En, 61),
            "Too many failed attempts. Try again in 2 min."
        );
    }
}
