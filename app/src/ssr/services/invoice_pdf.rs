//! Invoices as A4 PDF (printpdf), rendered from stored lines only: the CSP's company block,
//! bill-to, number, dates, period, a summary by service, the lines by section and meter with
//! section subtotals on base subscription invoices, tax and total, unpriced usage listed as
//! not charged; repeated table headers and "page x of y" on every page; drafts marked DRAFT.
//!
//! Text is set in a CJK font (Noto Sans CJK from Debian's fonts-noto-cjk, the face matching
//! the reader: Traditional Chinese for zh-TW, Simplified otherwise) embedded as a subset, so
//! names and addresses in Chinese, French or Dutch render as written. Output is
//! deterministic: dates come from the invoice, and the identifiers printpdf draws at random
//! are replaced by ones derived from the invoice.

use crate::error::AppError;
use crate::i18n::{format_date, format_decimal, format_money, format_period, text, Locale, Msg};
use crate::types::{InvoiceDetail, InvoiceLineView};
use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt,
    Rect, Rgb, TextItem,
};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The company printed on every invoice (`STACKBILL_COMPANY_*`).
#[derive(Debug, Clone, Default)]
pub struct Company {
    /// Name.
    pub name: String,
    /// Postal address, lines separated by newlines (or `\n` in the variable).
    pub address: String,
    /// Contact email.
    pub email: String,
    /// Tax id.
    pub tax_id: String,
    /// The logo printed top left (`STACKBILL_COMPANY_LOGO`), decoded once at start-up.
    pub logo: Option<Arc<Logo>>,
}

/// The company's logo: a PNG or JPEG file, read and decoded when the configuration is
/// read, so a missing or unreadable file stops start-up with a message naming it instead
/// of failing every invoice later.
pub struct Logo {
    path: String,
    image: printpdf::RawImage,
}

/// The largest logo file accepted (a letterhead logo is a few kilobytes).
const LOGO_MAX_BYTES: u64 = 4 * 1024 * 1024;

impl Logo {
    /// Reads and decodes the logo at `path`.
    pub fn load(path: &std::path::Path) -> Result<Logo, String> {
        let shown = path.display();
        let size = std::fs::metadata(path)
            .map_err(|e| format!("cannot read the logo file {shown}: {e}"))?
            .len();
        if size > LOGO_MAX_BYTES {
            return Err(format!(
                "the logo file {shown} has {size} bytes; at most {LOGO_MAX_BYTES} are accepted"
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read the logo file {shown}: {e}"))?;
        let mut warnings = Vec::new();
        let image = printpdf::RawImage::decode_from_bytes(&bytes, &mut warnings)
            .map_err(|e| format!("the logo file {shown} is not a PNG or JPEG image this build reads: {e}"))?;
        if image.width == 0 || image.height == 0 {
            return Err(format!("the logo file {shown} has no pixels"));
        }
        Ok(Logo {
            path: shown.to_string(),
            image,
        })
    }

    /// Its size in pixels.
    pub fn pixels(&self) -> (usize, usize) {
        (self.image.width, self.image.height)
    }
}

impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Logo({}, {}×{})", self.path, self.image.width, self.image.height)
    }
}

impl PartialEq for Logo {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.pixels() == other.pixels()
    }
}

impl Eq for Logo {}

/// The logo's box: at most this high and wide (mm), its proportions kept.
const LOGO_H: f32 = 14.0;
const LOGO_W: f32 = 50.0;

/// The fonts, parsed once: a face per script family.
pub struct Fonts {
    /// Traditional Chinese face (zh-TW).
    pub traditional: Arc<ParsedFont>,
    /// Simplified Chinese face (every other locale: its Latin is the same).
    pub simplified: Arc<ParsedFont>,
}

impl Fonts {
    /// Reads the CJK font collection at `path` (faces: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK).
    pub fn load(path: &std::path::Path) -> Result<Fonts, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read the invoice font {}: {e}", path.display()))?;
        let face = |index: usize| {
            let mut warnings = Vec::new();
            ParsedFont::from_bytes(&bytes, index, &mut warnings)
                .map(Arc::new)
                .ok_or_else(|| format!("{} has no usable font face {index}", path.display()))
        };
        Ok(Fonts {
            simplified: face(2)?,
            traditional: face(3)?,
        })
    }

    fn for_locale(&self, locale: Locale) -> &ParsedFont {
        match locale {
            Locale::ZhTw => &self.traditional,
            _ => &self.simplified,
        }
    }
}

/// Where Debian's fonts-noto-cjk puts the collection.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const LEFT: f32 = 18.0;
const RIGHT: f32 = PAGE_W - 18.0;
const TOP: f32 = PAGE_H - 18.0;
const BOTTOM: f32 = 22.0;
const ROW: f32 = 5.2;
/// Points to millimetres.
const PT_MM: f32 = 25.4 / 72.0;

struct Writer<'a> {
    font: &'a ParsedFont,
    font_id: FontId,
    pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    y: f32,
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

impl<'a> Writer<'a> {
    fn width(&self, s: &str, size: f32) -> f32 {
        let upm = self.font.font_metrics.units_per_em as f32;
        let units: f32 = s
            .chars()
            .map(|c| {
                self.font
                    .lookup_glyph_index(c as u32)
                    .and_then(|g| self.font.get_horizontal_advance(g).into())
                    .unwrap_or(0) as f32
            })
            .sum();
        units / upm * size * PT_MM
    }

    fn text(&mut self, s: &str, x: f32, y: f32, size: f32, align: Align, grey: bool) {
        if s.is_empty() {
            return;
        }
        let x = match align {
            Align::Left => x,
            Align::Right => x - self.width(s, size),
        };
        let shade = if grey { 0.45 } else { 0.1 };
        self.ops.push(Op::SetFillColor {
            col: Color::Rgb(Rgb::new(shade, shade, shade, None)),
        });
        self.ops.push(Op::StartTextSection);
        self.ops.push(Op::SetFont {
            font: PdfFontHandle::External(self.font_id.clone()),
            size: Pt(size),
        });
        self.ops.push(Op::SetTextCursor {
            pos: Point::new(Mm(x), Mm(y)),
        });
        self.ops.push(Op::ShowText {
            items: vec![TextItem::Text(s.to_owned())],
        });
        self.ops.push(Op::EndTextSection);
    }

    fn rule(&mut self, y: f32, weight: f32) {
        self.ops.push(Op::SetOutlineColor {
            col: Color::Rgb(Rgb::new(0.6, 0.6, 0.6, None)),
        });
        self.ops.push(Op::SetOutlineThickness { pt: Pt(weight) });
        self.ops.push(Op::DrawLine {
            line: Line {
                points: vec![
                    LinePoint {
                        p: Point::new(Mm(LEFT), Mm(y)),
                        bezier: false,
                    },
                    LinePoint {
                        p: Point::new(Mm(RIGHT), Mm(y)),
                        bezier: false,
                    },
                ],
                is_closed: false,
            },
        });
    }

    fn band(&mut self, y: f32, h: f32) {
        self.ops.push(Op::SetFillColor {
            col: Color::Rgb(Rgb::new(0.93, 0.95, 0.98, None)),
        });
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Mm(LEFT).into(),
                y: Mm(y).into(),
                width: Mm(RIGHT - LEFT).into(),
                height: Mm(h).into(),
                mode: Some(printpdf::PaintMode::Fill),
                winding_order: None,
            },
        });
    }

    fn new_page(&mut self) {
        let done = std::mem::take(&mut self.ops);
        self.pages.push(done);
        self.y = TOP;
    }
}

/// Column positions of the lines table (right edges for numbers).
const COL_METER: f32 = LEFT + 2.0;
const COL_QTY: f32 = 118.0;
const COL_UNIT: f32 = 121.0;
const COL_PRICE: f32 = 166.0;
const COL_AMOUNT: f32 = RIGHT - 2.0;

fn shorten(w: &Writer<'_>, s: &str, size: f32, max: f32) -> String {
    if w.width(s, size) <= max {
        return s.to_owned();
    }
    let mut out: String = s.to_owned();
    while !out.is_empty() && w.width(&format!("{out}…"), size) > max {
        out.pop();
    }
    format!("{out}…")
}

/// One table row to print.
enum Row<'l> {
    Section(String),
    Line(&'l InvoiceLineView),
    Subtotal(Decimal),
}

/// Renders an invoice or credit note from its stored lines.
pub fn render(d: &InvoiceDetail, company: &Company, fonts: &Fonts) -> Result<Vec<u8>, AppError> {
    let s = &d.summary;
    let locale = Locale::parse(&s.locale).unwrap_or(Locale::En);
    let t = |m| text(locale, m);
    let money = |v: Decimal| format_money(&crate::billing::Money::new(v, s.currency), locale);
    let font = fonts.for_locale(locale);
    let mut doc = PdfDocument::new(&s.number.clone().unwrap_or_else(|| format!("draft-{}", s.id)));
    // Its first six letters are the subset tag (`SBINVF+NotoSansCJKsc-Regular`).
    let font_id = FontId("SBINVF".into());
    doc.resources
        .fonts
        .map
        .insert(font_id.clone(), printpdf::PdfFont::new(font.clone()));
    let mut w = Writer {
        font,
        font_id,
        pages: Vec::new(),
        ops: Vec::new(),
        y: TOP,
    };
    let title = if s.kind == "credit_note" {
        t(Msg::CreditNoteTitle)
    } else {
        t(Msg::InvoiceTitle)
    };
    let when = |secs: Option<i64>| {
        secs.and_then(|v| chrono::DateTime::from_timestamp(v, 0))
            .map(|at| format_date(at.date_naive(), locale))
            .unwrap_or_default()
    };

    // Logo, company (left) and title (right).
    let head = w.y;
    w.text(title, RIGHT, head, 18.0, Align::Right, false);
    if let Some(logo) = &company.logo {
        // A fixed id (not printpdf's random one), so the bytes stay deterministic.
        let id = printpdf::XObjectId("SBLOGO".into());
        doc.resources
            .xobjects
            .map
            .insert(id.clone(), printpdf::XObject::Image(logo.image.clone()));
        let (px_w, px_h) = logo.pixels();
        let (px_w, px_h) = (px_w as f32, px_h as f32);
        let scale = (LOGO_H / px_h).min(LOGO_W / px_w);
        let height = px_h * scale;
        // printpdf sizes an image by its resolution: the one that makes it `height` mm high.
        let dpi = px_h * 25.4 / height;
        let top = w.y + 5.0;
        w.ops.push(Op::UseXobject {
            id,
            transform: printpdf::XObjectTransform {
                translate_x: Some(Mm(LEFT).into()),
                translate_y: Some(Mm(top - height).into()),
                dpi: Some(dpi),
                ..Default::default()
            },
        });
        w.y = top - height - 6.0;
    }
    w.text(&company.name, LEFT, w.y, 12.0, Align::Left, false);
    let mut y = w.y - 5.0;
    for l in company
        .address
        .lines()
        .chain([company.email.as_str(), company.tax_id.as_str()])
    {
        if !l.trim().is_empty() {
            w.text(l.trim(), LEFT, y, 8.5, Align::Left, true);
            y -= 4.0;
        }
    }
    // Facts (right).
    let period = crate::billing::BillingPeriod::parse(&s.period)
        .map(|p| format_period(p, locale))
        .unwrap_or_else(|_| s.period.clone());
    let mut facts: Vec<(&str, String)> = vec![
        (
            t(Msg::InvoiceNumberLabel),
            s.number.clone().unwrap_or_else(|| t(Msg::DraftMark).to_owned()),
        ),
        (t(Msg::IssueDateLabel), when(s.issued_at)),
        (
            t(Msg::DueDateLabel),
            s.due_on.map(|d| format_date(d, locale)).unwrap_or_default(),
        ),
        (t(Msg::Period), period),
        (t(Msg::BillingSubscriptionLabel), s.billing_subscription_id.clone()),
    ];
    if let Some(original) = &s.credit_for {
        facts.push((t(Msg::CreditForLabel), original.clone()));
    }
    let mut fy = head - 9.0;
    for (label, value) in &facts {
        if value.is_empty() {
            continue;
        }
        w.text(label, 128.0, fy, 8.0, Align::Right, true);
        w.text(value, 131.0, fy, 8.0, Align::Left, false);
        fy -= 4.2;
    }
    // Bill-to.
    let mut by = y.min(fy) - 8.0;
    w.text(t(Msg::BillToLabel), LEFT, by, 8.0, Align::Left, true);
    by -= 5.0;
    w.text(&s.bill_to.name, LEFT, by, 11.0, Align::Left, false);
    by -= 4.6;
    let mut extra: Vec<String> = s
        .bill_to
        .address
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    extra.push(s.bill_to.email.clone());
    if !s.bill_to.tax_id.is_empty() {
        extra.push(format!("{}: {}", t(Msg::TaxIdLabel), s.bill_to.tax_id));
    }
    if let Some(tenant) = &s.bill_to.cloud_tenant_id {
        extra.push(format!("{}: {tenant}", t(Msg::TenantSection)));
    }
    for l in extra.iter().filter(|l| !l.is_empty()) {
        w.text(l, LEFT, by, 8.5, Align::Left, false);
        by -= 4.0;
    }
    w.y = by - 6.0;

    // Summary by service.
    let mut by_service: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in &d.lines {
        let key = if l.service.is_empty() {
            t(Msg::MinimumChargeLine).to_owned()
        } else {
            l.service.clone()
        };
        *by_service.entry(key).or_default() += l.amount;
    }
    w.text(t(Msg::SummaryByService), LEFT, w.y, 9.5, Align::Left, false);
    w.y -= ROW;
    for (service, amount) in &by_service {
        w.text(service, LEFT + 2.0, w.y, 8.5, Align::Left, false);
        w.text(&money(*amount), 100.0, w.y, 8.5, Align::Right, false);
        w.y -= 4.4;
    }
    w.y -= 4.0;

    // The lines, in sections on base subscription invoices.
    let base = s.account_kind == "base";
    let mut rows: Vec<Row> = Vec::new();
    let mut current: Option<(String, Option<String>)> = None;
    let mut subtotal = Decimal::ZERO;
    for l in &d.lines {
        let key = (l.section_kind.clone(), l.cloud_tenant_id.clone());
        if base && current.as_ref() != Some(&key) {
            if current.is_some() {
                rows.push(Row::Subtotal(subtotal));
            }
            subtotal = Decimal::ZERO;
            let label = match (l.section_kind.as_str(), &l.cloud_tenant_id) {
                ("unassigned", _) => t(Msg::UnassignedUsage).to_owned(),
                (_, Some(tenant)) if !l.section_label.is_empty() => format!("{} ({tenant})", l.section_label),
                (_, Some(tenant)) => format!("{} {tenant}", t(Msg::TenantSection)),
                _ => String::new(),
            };
            rows.push(Row::Section(label));
            current = Some(key);
        }
        subtotal += l.amount;
        rows.push(Row::Line(l));
    }
    if base && current.is_some() {
        rows.push(Row::Subtotal(subtotal));
    }
    let header = |w: &mut Writer<'_>| {
        w.band(w.y - 1.6, ROW + 0.6);
        w.text(t(Msg::MeterCol), COL_METER, w.y, 8.0, Align::Left, true);
        w.text(t(Msg::QuantityCol), COL_QTY, w.y, 8.0, Align::Right, true);
        w.text(t(Msg::Unit), COL_UNIT, w.y, 8.0, Align::Left, true);
        w.text(t(Msg::UnitPriceCol), COL_PRICE, w.y, 8.0, Align::Right, true);
        w.text(t(Msg::AmountCol), COL_AMOUNT, w.y, 8.0, Align::Right, true);
        w.y -= ROW + 0.8;
    };
    header(&mut w);
    for row in &rows {
        if w.y < BOTTOM + ROW {
            w.new_page();
            header(&mut w);
        }
        match row {
            Row::Section(label) => {
                w.y -= 1.0;
                let label = shorten(&w, label, 8.5, RIGHT - LEFT - 4.0);
                w.text(&label, COL_METER, w.y, 8.5, Align::Left, false);
                w.y -= ROW;
            }
            Row::Line(l) => {
                let name = match (l.line_kind.as_str(), &l.refers_to) {
                    ("minimum_charge", _) => t(Msg::MinimumChargeLine).to_owned(),
                    ("adjustment", Some(original)) => format!("{} ({} {original})", l.meter_name, t(Msg::AdjustmentTo)),
                    _ => l.meter_name.clone(),
                };
                let name = shorten(&w, &name, 8.5, COL_QTY - COL_METER - 14.0);
                w.text(
                    &name,
                    COL_METER + if base { 3.0 } else { 0.0 },
                    w.y,
                    8.5,
                    Align::Left,
                    false,
                );
                if let Some(q) = l.quantity {
                    w.text(&format_decimal(q, locale, 0, 4), COL_QTY, w.y, 8.5, Align::Right, false);
                }
                let unit = shorten(&w, &l.unit, 8.5, COL_PRICE - COL_UNIT - 20.0);
                w.text(&unit, COL_UNIT, w.y, 8.5, Align::Left, true);
                if let Some(p) = l.unit_price {
                    w.text(
                        &format_decimal(p, locale, 2, 10),
                        COL_PRICE,
                        w.y,
                        8.5,
                        Align::Right,
                        false,
                    );
                }
                w.text(&money(l.amount), COL_AMOUNT, w.y, 8.5, Align::Right, false);
                w.y -= ROW;
            }
            Row::Subtotal(v) => {
                w.text(t(Msg::SubtotalLabel), COL_PRICE, w.y, 8.5, Align::Right, true);
                w.text(&money(*v), COL_AMOUNT, w.y, 8.5, Align::Right, false);
                w.y -= ROW + 1.0;
            }
        }
    }

    // Totals.
    if w.y < BOTTOM + 4.0 * ROW {
        w.new_page();
    }
    w.rule(w.y + 2.5, 0.6);
    w.y -= 2.0;
    let tax_label = format!("{} {} %", t(Msg::TaxLabel), format_decimal(s.tax_rate, locale, 0, 4));
    for (label, value, size) in [
        (t(Msg::SubtotalLabel).to_owned(), s.subtotal, 9.0),
        (tax_label, s.tax, 9.0),
        (t(Msg::TotalLabel).to_owned(), s.total, 11.0),
    ] {
        w.text(&label, COL_PRICE, w.y, size, Align::Right, size < 10.0);
        w.text(&money(value), COL_AMOUNT, w.y, size, Align::Right, false);
        w.y -= ROW + 0.6;
    }
    // Unpriced usage: listed, not charged.
    if let Some(list) = d.unpriced.as_array().filter(|l| !l.is_empty()) {
        w.y -= 4.0;
        if w.y < BOTTOM + 3.0 * ROW {
            w.new_page();
        }
        w.text(t(Msg::NotChargedUnpriced), LEFT, w.y, 8.5, Align::Left, true);
        w.y -= ROW;
        for u in list {
            if w.y < BOTTOM + ROW {
                w.new_page();
            }
            let q = u["quantity"]
                .as_str()
                .and_then(|q| q.parse::<Decimal>().ok())
                .unwrap_or_default();
            let line = format!(
                "{} — {} {}",
                u["meter_name"].as_str().unwrap_or_default(),
                format_decimal(q, locale, 0, 4),
                u["unit"].as_str().unwrap_or_default()
            );
            w.text(&line, LEFT + 2.0, w.y, 8.0, Align::Left, true);
            w.y -= 4.2;
        }
    }
    // Usage detail pages: by user subscription (with what it was charged), then resource
    // group and meter, in the meters' own units; headers repeated on every page.
    if !d.usage_detail.is_empty() {
        w.new_page();
        w.text(t(Msg::UsageDetailTitle), LEFT, w.y, 12.0, Align::Left, false);
        w.y -= 5.0;
        w.text(t(Msg::UsageDetailExplained), LEFT, w.y, 8.0, Align::Left, true);
        w.y -= 7.0;
        const COL_RG: f32 = LEFT + 2.0;
        const COL_DMETER: f32 = LEFT + 58.0;
        const COL_DQTY: f32 = 142.0;
        let header = |w: &mut Writer<'_>| {
            w.band(w.y - 1.6, ROW + 0.6);
            w.text(t(Msg::ResourceGroupCol), COL_RG, w.y, 8.0, Align::Left, true);
            w.text(t(Msg::MeterCol), COL_DMETER, w.y, 8.0, Align::Left, true);
            w.text(t(Msg::QuantityCol), COL_DQTY, w.y, 8.0, Align::Right, true);
            w.text(t(Msg::Unit), COL_DQTY + 3.0, w.y, 8.0, Align::Left, true);
            w.y -= ROW + 0.8;
        };
        header(&mut w);
        let mut subscriptions: Vec<(&str, Vec<&crate::types::UsageDetailRow>)> = Vec::new();
        for r in &d.usage_detail {
            match subscriptions.last_mut() {
                Some((sub, rows)) if *sub == r.user_subscription_id => rows.push(r),
                _ => subscriptions.push((&r.user_subscription_id, vec![r])),
            }
        }
        for (sub, rows) in subscriptions {
            if w.y < BOTTOM + 2.0 * ROW {
                w.new_page();
                header(&mut w);
            }
            w.y -= 1.0;
            let cost: Decimal = rows.iter().filter_map(|r| r.amount).sum();
            w.text(
                &format!("{} {sub}", t(Msg::UserSubscriptionLabel)),
                COL_RG,
                w.y,
                8.5,
                Align::Left,
                false,
            );
            w.text(
                &money(s.currency.round(cost)),
                COL_AMOUNT,
                w.y,
                8.5,
                Align::Right,
                false,
            );
            w.y -= ROW;
            let mut last_rg: Option<&str> = None;
            for r in rows {
                if w.y < BOTTOM + ROW {
                    w.new_page();
                    header(&mut w);
                    // The subscription again, so a continued page says whose rows these are.
                    w.text(
                        &format!("{} {sub} …", t(Msg::UserSubscriptionLabel)),
                        COL_RG,
                        w.y,
                        8.5,
                        Align::Left,
                        true,
                    );
                    w.y -= ROW;
                    last_rg = None;
                }
                if last_rg != Some(r.resource_group.as_str()) {
                    let rg = if r.resource_group.is_empty() {
                        "—"
                    } else {
                        r.resource_group.as_str()
                    };
                    let rg = shorten(&w, rg, 8.5, COL_DMETER - COL_RG - 3.0);
                    w.text(&rg, COL_RG + 3.0, w.y, 8.5, Align::Left, true);
                    last_rg = Some(r.resource_group.as_str());
                }
                let name = shorten(&w, &r.meter_name, 8.5, COL_DQTY - COL_DMETER - 22.0);
                w.text(&name, COL_DMETER, w.y, 8.5, Align::Left, false);
                w.text(
                    &format_decimal(r.quantity, locale, 0, 4),
                    COL_DQTY,
                    w.y,
                    8.5,
                    Align::Right,
                    false,
                );
                let unit = shorten(&w, &r.unit, 8.5, COL_AMOUNT - COL_DQTY - 3.0);
                w.text(&unit, COL_DQTY + 3.0, w.y, 8.5, Align::Left, true);
                w.y -= ROW;
            }
        }
    }
    w.new_page();

    // Footer and the DRAFT mark on every page, now that the page count is known.
    let count = w.pages.len();
    let number = s.number.clone().unwrap_or_else(|| t(Msg::DraftMark).to_owned());
    let mut pages = Vec::with_capacity(count);
    let drafted = s.status == "draft";
    for (i, ops) in std::mem::take(&mut w.pages).into_iter().enumerate() {
        w.ops = ops;
        w.rule(BOTTOM - 6.0, 0.3);
        w.text(
            &format!("{} · {number}", company.name),
            LEFT,
            BOTTOM - 10.5,
            7.5,
            Align::Left,
            true,
        );
        let page = format!("{} {} {} {count}", t(Msg::PageLabel), i + 1, t(Msg::OfLabel));
        w.text(&page, RIGHT, BOTTOM - 10.5, 7.5, Align::Right, true);
        let mut page_ops = std::mem::take(&mut w.ops);
        if drafted {
            // Under the content, light and centred.
            let mark = t(Msg::DraftMark);
            let x = PAGE_W / 2.0 - w.width(mark, 72.0) / 2.0;
            w.text(mark, x, PAGE_H / 2.0 - 10.0, 72.0, Align::Left, true);
            if let Some(Op::SetFillColor { col }) = w.ops.first_mut() {
                *col = Color::Rgb(Rgb::new(0.9, 0.9, 0.9, None));
            }
            let mut under = std::mem::take(&mut w.ops);
            under.append(&mut page_ops);
            page_ops = under;
        }
        pages.push(PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), page_ops));
    }
    // Deterministic: the document's dates are the invoice's, not the clock's.
    let stamp = s.issued_at.unwrap_or(0);
    if let Ok(at) = printpdf::OffsetDateTime::from_unix_timestamp(stamp) {
        doc.metadata.info.creation_date = at;
        doc.metadata.info.modification_date = at;
        doc.metadata.info.metadata_date = at;
    }
    doc.metadata.info.document_title = format!("{title} {number}");
    doc.metadata.info.producer = "Stackbill".into();
    doc.metadata.info.creator = "Stackbill".into();
    let doc = doc.with_pages(pages);
    let mut warnings = Vec::new();
    let bytes = doc.save(&PdfSaveOptions::default(), &mut warnings);
    Ok(deterministic(bytes, &number))
}

/// printpdf names pages, layers and the document with random 32-letter tokens (`A`–`J`)
/// from a process-wide counter; each distinct one is replaced by a token derived from the
/// invoice number and its order of appearance — the same length, so offsets stay valid.
fn deterministic(mut bytes: Vec<u8>, number: &str) -> Vec<u8> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    while i + 32 <= bytes.len() {
        let run = &bytes[i..i + 32];
        let token = run.iter().all(|b| (b'A'..=b'J').contains(b))
            && (i == 0 || !bytes[i - 1].is_ascii_uppercase())
            && bytes.get(i + 32).is_none_or(|b: &u8| !b.is_ascii_uppercase());
        if token {
            let key = run.to_vec();
            let n = match seen.iter().position(|s| *s == key) {
                Some(n) => n,
                None => {
                    seen.push(key);
                    seen.len() - 1
                }
            };
            let seed = format!("{number}#{n}");
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for (k, b) in seed.bytes().enumerate() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3) ^ k as u64;
            }
            for (k, slot) in bytes[i..i + 32].iter_mut().enumerate() {
                h = h.rotate_left(5) ^ (k as u64).wrapping_mul(0x9e37_79b9);
                *slot = b'A' + (h % 10) as u8;
            }
            i += 32;
        } else {
            i += 1;
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::Currency;
    use crate::types::{BillTo, InvoiceSummary, UsageDetailRow};

    /// A base subscription invoice of `tenants` fallback sections × 15 meters, in French.
    fn long_invoice(tenants: usize) -> InvoiceDetail {
        let mut lines = Vec::new();
        for t in 0..tenants {
            for m in 0..15 {
                lines.push(InvoiceLineView {
                    line_kind: "usage".into(),
                    section_kind: "tenant".into(),
                    cloud_tenant_id: Some(format!("00000001-0000-4000-8000-{t:012}")),
                    meter_id: Some(format!("00000009-0000-4000-8000-{m:012}")),
                    meter_name: format!("Compteur {m}"),
                    service: "Compute".into(),
                    quantity: Some(Decimal::from(10 + m)),
                    unit: "vCPU-hour".into(),
                    unit_price: Some(Decimal::new(5, 1)),
                    amount: Decimal::new((10 + m as i64) * 5, 1),
                    price_version_from: None,
                    adjustment: None,
                    section_label: format!("Société n° {t}"),
                    refers_to: None,
                });
            }
        }
        let subtotal: Decimal = lines.iter().map(|l| l.amount).sum();
        InvoiceDetail {
            summary: InvoiceSummary {
                id: 7,
                number: Some("SB-2026-000042".into()),
                kind: "invoice".into(),
                status: "issued".into(),
                registration: "stamp".into(),
                period: "2026-10".into(),
                account_kind: "base".into(),
                billing_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf".into(),
                customer_id: None,
                bill_to: BillTo {
                    name: "stamp".into(),
                    billing_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf".into(),
                    ..BillTo::default()
                },
                locale: "fr".into(),
                currency: Currency::parse("EUR").unwrap(),
                subtotal,
                tax_rate: Decimal::ZERO,
                tax: Decimal::ZERO,
                total: subtotal,
                unpriced_meters: 0,
                issued_at: Some(1_793_000_000),
                due_on: None,
                credit_for: None,
                voided_by: None,
                previous_run_total: None,
                previous_month_total: None,
            },
            lines,
            unpriced: serde_json::Value::Array(vec![]),
            usage_detail: Vec::new(),
        }
    }

    fn text_of(pdf: &[u8]) -> Vec<String> {
        let dir = std::env::temp_dir().join(format!("stackbill-pdf-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{}.pdf", pdf.len()));
        std::fs::write(&file, pdf).unwrap();
        let out = std::process::Command::new("pdftotext")
            .arg("-layout")
            .arg(&file)
            .arg("-")
            .output()
            .expect("pdftotext (poppler-utils, installed by .ci/setup)");
        let _ = std::fs::remove_file(&file);
        // pdftotext separates pages with a form feed.
        String::from_utf8(out.stdout)
            .unwrap()
            .split('\u{c}')
            .filter(|p| !p.trim().is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_long_invoice_repeats_its_table_header_on_every_page_and_numbers_them() {
        let fonts = Fonts::load(std::path::Path::new(DEFAULT_FONT)).expect("fonts-noto-cjk, installed by .ci/setup");
        let company = Company {
            name: "Nordwind Cloud".into(),
            ..Company::default()
        };
        let d = long_invoice(12);
        let pdf = render(&d, &company, &fonts).unwrap();
        let pages = text_of(&pdf);
        let n = pages.len();
        assert!(n >= 4, "180 lines in 12 sections take several pages, not {n}");
        for (i, page) in pages.iter().enumerate() {
            assert!(
                page.contains(&format!("Page {} sur {n}", i + 1)),
                "page {} has no page x of y:\n{page}",
                i + 1
            );
            assert!(page.contains("SB-2026-000042"), "the number in every footer");
        }
        // The lines' header on every page that has lines (all but possibly the last).
        let with_lines = pages.iter().filter(|p| p.contains("Compteur")).count();
        let with_header = pages
            .iter()
            .filter(|p| p.contains("Compteur") && p.contains(text(Locale::Fr, Msg::QuantityCol)))
            .count();
        assert_eq!(with_lines, with_header, "a page of lines without the table header");
        for t in 0..12 {
            assert!(
                pages.iter().any(|p| p.contains(&format!("Société n° {t}"))),
                "section {t}"
            );
        }
        // The same document, the same bytes.
        assert!(render(&d, &company, &fonts).unwrap() == pdf);

        // Usage detail pages keep their own header on every page too.
        let mut d = long_invoice(1);
        d.usage_detail = (0..300)
            .map(|i| UsageDetailRow {
                user_subscription_id: format!("00000003-0000-4000-8000-{:012}", i / 30),
                resource_group: format!("rg-{}", i % 3),
                meter_id: format!("00000009-0000-4000-8000-{:012}", i % 30),
                meter_name: format!("Compteur {}", i % 30),
                quantity: Decimal::from(i),
                unit: "heures".into(),
                amount: (i % 30 == 0).then(|| Decimal::from(3)),
            })
            .collect();
        let pages = text_of(&render(&d, &company, &fonts).unwrap());
        let detail: Vec<&String> = pages
            .iter()
            .filter(|p| p.contains(text(Locale::Fr, Msg::ResourceGroupCol)))
            .collect();
        assert!(
            detail.len() >= 6,
            "300 rows in 10 subscriptions: {} detail pages",
            detail.len()
        );
        assert!(pages.last().unwrap().contains("00000003-0000-4000-8000-000000000009"));
    }
}
