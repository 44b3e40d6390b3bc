//! A price-sheet version as CSV: the download an operator edits in a spreadsheet and the
//! upload that becomes a new version, checked whole with every row's problem before
//! anything is saved. The one documented header (column order free, names without regard
//! to case):
//!
//! ```text
//! meter_id,meter_name,model,tier_from,unit_price,billing_unit,usage_units_per_billing_unit,per_period_hours,package_size
//! ```
//!
//! - `model`: `per_unit`, `graduated`, `volume` or `package`.
//! - One row per meter, except graduated and volume prices: **one row per tier**, in
//!   ascending `tier_from` order starting at 0, every row of the meter with the same model,
//!   billing unit and conversion. `unit_price` is the price per billing unit inside the tier.
//! - `package`: `unit_price` is the price of one block of `package_size` billing units.
//! - `billing_unit`: the unit the price is quoted in (empty: the meter's usage unit);
//!   `usage_units_per_billing_unit` (empty: 1) and `per_period_hours` (`true` for a
//!   monthly price on hourly usage, e.g. GB-month on GB-hours) relate usage to it.
//! - `meter_name` is for people reading the file; the upload ignores it.
//!
//! Pure: the catalogue comes in as a map, so every rule is tested without a database.

use crate::billing::pricing::{PricingModel, Tier, UnitConversion, UnitPrice};
use crate::billing::quantity::parse_exact_decimal;
use crate::billing::{MeterId, PriceEntry};
use crate::ssr::services::csv_input::{self, refused, row_error, CsvRefused, Layout, Row};
use crate::types::CsvRowError;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// The columns, in the download's order.
pub const COLUMNS: [&str; 9] = [
    "meter_id",
    "meter_name",
    "model",
    "tier_from",
    "unit_price",
    "billing_unit",
    "usage_units_per_billing_unit",
    "per_period_hours",
    "package_size",
];

/// The most rows a version takes (the catalogue has about a hundred meters).
pub const MAX_ROWS: usize = 10_000;

/// The largest file taken.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// The longest billing unit label.
const MAX_UNIT_CHARS: usize = 40;

/// What the CSV needs to know of a meter.
#[derive(Debug, Clone)]
pub struct KnownMeter {
    /// Its name.
    pub name: String,
    /// Its usage unit (the default billing unit).
    pub unit: String,
}

/// The names of the pricing models, as the CSV and the console write them.
pub fn model_name(model: &PricingModel) -> &'static str {
    match model {
        PricingModel::PerUnit { .. } => "per_unit",
        PricingModel::Graduated { .. } => "graduated",
        PricingModel::Volume { .. } => "volume",
        PricingModel::Package { .. } => "package",
    }
}

/// A version's entries as CSV, sorted by meter name: one row per meter, one per tier for
/// tiered prices. Uploading the file again gives the same entries.
pub fn write(entries: &[PriceEntry], meters: &HashMap<MeterId, KnownMeter>) -> String {
    let mut sorted: Vec<&PriceEntry> = entries.iter().collect();
    let name = |id: &MeterId| meters.get(id).map(|m| m.name.as_str()).unwrap_or("");
    sorted.sort_by(|a, b| {
        name(&a.meter_id)
            .cmp(name(&b.meter_id))
            .then(a.meter_id.cmp(&b.meter_id))
    });
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut put = |fields: [String; 9]| {
        // Writing to memory cannot fail.
        let _ = w.write_record(&fields);
    };
    put(COLUMNS.map(str::to_owned));
    for e in sorted {
        let common = |tier_from: String, price: String, package: String| {
            [
                e.meter_id.to_string(),
                name(&e.meter_id).to_owned(),
                model_name(&e.model).to_owned(),
                tier_from,
                price,
                e.billing_unit.clone(),
                e.conversion.factor.normalize().to_string(),
                e.conversion.per_period_hours.to_string(),
                package,
            ]
        };
        match &e.model {
            PricingModel::PerUnit { unit_price } => put(common(String::new(), unit_price.to_string(), String::new())),
            PricingModel::Graduated { tiers } | PricingModel::Volume { tiers } => {
                for t in tiers {
                    put(common(
                        t.from.normalize().to_string(),
                        t.unit_price.to_string(),
                        String::new(),
                    ));
                }
            }
            PricingModel::Package {
                package_size,
                package_price,
            } => put(common(
                String::new(),
                package_price.to_string(),
                package_size.normalize().to_string(),
            )),
        }
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// Reads a version's CSV whole: its entries, or every problem by row and column.
pub fn parse(bytes: &[u8], meters: &HashMap<MeterId, KnownMeter>) -> Result<Vec<PriceEntry>, CsvRefused> {
    let rows = csv_input::read(
        bytes,
        &Layout {
            columns: &COLUMNS,
            required: &["meter_id", "model", "unit_price"],
            max_bytes: MAX_BYTES,
            max_rows: MAX_ROWS,
        },
    )?;
    entries_from_rows(&rows, meters).map_err(refused)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PerUnit,
    Graduated,
    Volume,
    Package,
}

impl Kind {
    fn parse(raw: &str) -> Option<Kind> {
        match raw.to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
            "per_unit" => Some(Kind::PerUnit),
            "graduated" => Some(Kind::Graduated),
            "volume" => Some(Kind::Volume),
            "package" => Some(Kind::Package),
            _ => None,
        }
    }

    fn tiered(self) -> bool {
        matches!(self, Kind::Graduated | Kind::Volume)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::PerUnit => "per_unit",
            Kind::Graduated => "graduated",
            Kind::Volume => "volume",
            Kind::Package => "package",
        }
    }
}

/// One row's values, each checked.
struct Values {
    meter: MeterId,
    kind: Kind,
    tier_from: Decimal,
    price: UnitPrice,
    billing_unit: String,
    conversion: UnitConversion,
    package_size: Option<Decimal>,
}

fn values(row: &Row, meters: &HashMap<MeterId, KnownMeter>, problems: &mut Vec<CsvRowError>) -> Option<Values> {
    let n = row.number;
    let before = problems.len();
    let mut bad = |column: &str, message: String| problems.push(row_error(n, column, message));
    let meter = match MeterId::parse(row.get("meter_id")) {
        Ok(m) if meters.contains_key(&m) => Some(m),
        Ok(m) => {
            bad(
                "meter_id",
                format!(
                    "There is no meter {m} in the catalogue; discovered meters are named on the Meters screen first."
                ),
            );
            None
        }
        Err(_) => {
            bad("meter_id", format!("`{}` is not a meter GUID.", row.get("meter_id")));
            None
        }
    };
    let kind = Kind::parse(row.get("model"));
    if kind.is_none() {
        bad(
            "model",
            format!(
                "Unknown pricing model `{}`; expected per_unit, graduated, volume or package.",
                row.get("model")
            ),
        );
    }
    let price = match row.get("unit_price") {
        "" => {
            bad("unit_price", "A price is required (0 for free).".into());
            None
        }
        raw => UnitPrice::parse(raw).map_err(|e| bad("unit_price", e.to_string())).ok(),
    };
    let decimal = |column: &str, what: &'static str| -> Result<Option<Decimal>, String> {
        match row.get(column) {
            "" => Ok(None),
            raw => parse_exact_decimal(raw, what).map(Some).map_err(|e| e.to_string()),
        }
    };
    let tier_from = match (kind, decimal("tier_from", "tier start")) {
        (_, Err(e)) => {
            bad("tier_from", e);
            None
        }
        (Some(k), Ok(None)) if k.tiered() => {
            bad(
                "tier_from",
                format!(
                    "A {} price needs `tier_from` on every row (0 for the first tier).",
                    k.name()
                ),
            );
            None
        }
        (_, Ok(Some(v))) if v < Decimal::ZERO => {
            bad("tier_from", format!("A tier cannot start below 0 ({v})."));
            None
        }
        (Some(k), Ok(Some(v))) if !k.tiered() && !v.is_zero() => {
            bad(
                "tier_from",
                format!("`tier_from` is for graduated and volume prices only, not {}.", k.name()),
            );
            None
        }
        (_, Ok(v)) => Some(v.unwrap_or(Decimal::ZERO)),
    };
    let package_size = match (kind, decimal("package_size", "package size")) {
        (_, Err(e)) => {
            bad("package_size", e);
            None
        }
        (Some(Kind::Package), Ok(None)) => {
            bad(
                "package_size",
                "A package price needs `package_size` (billing units per block).".into(),
            );
            None
        }
        (Some(Kind::Package), Ok(Some(v))) if v <= Decimal::ZERO => {
            bad("package_size", format!("The package size must be above 0 ({v})."));
            None
        }
        (Some(k), Ok(Some(_))) if k != Kind::Package => {
            bad(
                "package_size",
                format!("`package_size` is for package prices only, not {}.", k.name()),
            );
            None
        }
        (_, Ok(v)) => Some(v),
    };
    let factor = match decimal("usage_units_per_billing_unit", "conversion factor") {
        Err(e) => {
            bad("usage_units_per_billing_unit", e);
            None
        }
        Ok(Some(v)) if v <= Decimal::ZERO => {
            bad(
                "usage_units_per_billing_unit",
                format!("Usage units per billing unit must be above 0 ({v})."),
            );
            None
        }
        Ok(v) => Some(v.unwrap_or(Decimal::ONE)),
    };
    let per_period_hours = match row.get("per_period_hours").to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "0" => Some(false),
        "true" | "yes" | "1" => Some(true),
        other => {
            bad("per_period_hours", format!("`{other}` is not true or false."));
            None
        }
    };
    let unit = row.get("billing_unit");
    if unit.chars().count() > MAX_UNIT_CHARS {
        bad(
            "billing_unit",
            format!("A billing unit has at most {MAX_UNIT_CHARS} characters."),
        );
    }
    if problems.len() > before {
        return None;
    }
    let meter = meter?;
    let billing_unit = if unit.is_empty() {
        meters.get(&meter).map(|m| m.unit.clone()).unwrap_or_default()
    } else {
        unit.to_owned()
    };
    Some(Values {
        meter,
        kind: kind?,
        tier_from: tier_from?,
        price: price?,
        billing_unit,
        conversion: UnitConversion {
            factor: factor?.normalize(),
            per_period_hours: per_period_hours?,
        },
        package_size: package_size?,
    })
}

/// A meter's rows gathered.
struct Group {
    first_row: usize,
    first: Values,
    tiers: Vec<Tier>,
    last_from: Decimal,
}

/// Checks rows (from a file or a console form) into entries: every problem of every row,
/// or the entries in the order their meters first appear.
pub fn entries_from_rows(
    rows: &[Row],
    meters: &HashMap<MeterId, KnownMeter>,
) -> Result<Vec<PriceEntry>, Vec<CsvRowError>> {
    let mut problems = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<MeterId, usize> = HashMap::new();
    for row in rows {
        let Some(v) = values(row, meters, &mut problems) else {
            continue;
        };
        let n = row.number;
        match index.get(&v.meter) {
            None => {
                if v.kind.tiered() && !v.tier_from.is_zero() {
                    problems.push(row_error(
                        n,
                        "tier_from",
                        format!("The first tier of a meter starts at 0, not {}.", v.tier_from),
                    ));
                    continue;
                }
                index.insert(v.meter, groups.len());
                groups.push(Group {
                    first_row: n,
                    tiers: vec![Tier {
                        from: v.tier_from,
                        unit_price: v.price,
                    }],
                    last_from: v.tier_from,
                    first: v,
                });
            }
            Some(&g) => {
                let g = &mut groups[g];
                let first = g.first_row;
                if !g.first.kind.tiered() || !v.kind.tiered() {
                    problems.push(row_error(
                        n,
                        "meter_id",
                        format!(
                            "Meter {} already has a price in row {first}; only graduated and volume prices take one row per tier.",
                            v.meter
                        ),
                    ));
                } else if v.kind != g.first.kind {
                    problems.push(row_error(
                        n,
                        "model",
                        format!(
                            "Row {first} prices this meter as {}; every tier of a meter has the same model.",
                            g.first.kind.name()
                        ),
                    ));
                } else if v.billing_unit != g.first.billing_unit {
                    problems.push(row_error(
                        n,
                        "billing_unit",
                        format!(
                            "Row {first} quotes this meter per `{}`; every tier has the same billing unit.",
                            g.first.billing_unit
                        ),
                    ));
                } else if v.conversion != g.first.conversion {
                    problems.push(row_error(
                        n,
                        "usage_units_per_billing_unit",
                        format!(
                            "Row {first} converts this meter's usage differently; every tier has the same conversion."
                        ),
                    ));
                } else if v.tier_from <= g.last_from {
                    problems.push(row_error(
                        n,
                        "tier_from",
                        format!(
                            "Tiers go in increasing order: {} does not come after {}.",
                            v.tier_from.normalize(),
                            g.last_from.normalize()
                        ),
                    ));
                } else {
                    g.last_from = v.tier_from;
                    g.tiers.push(Tier {
                        from: v.tier_from,
                        unit_price: v.price,
                    });
                }
            }
        }
    }
    let mut entries = Vec::with_capacity(groups.len());
    for g in groups {
        let Group {
            first_row,
            first,
            tiers,
            ..
        } = g;
        let model = match first.kind {
            Kind::PerUnit => PricingModel::PerUnit {
                unit_price: first.price,
            },
            Kind::Graduated => PricingModel::Graduated { tiers },
            Kind::Volume => PricingModel::Volume { tiers },
            Kind::Package => PricingModel::Package {
                package_size: first.package_size.unwrap_or(Decimal::ONE).normalize(),
                package_price: first.price,
            },
        };
        // The billing core has the last word on every model.
        if let Err(e) = model.validate() {
            problems.push(row_error(first_row, "model", e.to_string()));
            continue;
        }
        entries.push(PriceEntry {
            meter_id: first.meter,
            model,
            billing_unit: first.billing_unit,
            conversion: first.conversion,
        });
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        problems.sort_by_key(|p| p.row);
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::meter::{BASE_VM_SIZE_HOURS, WINDOWS_VM_SIZE_HOURS};
    use rust_decimal_macros::dec;

    const BLOB: MeterId = MeterId::from_u128(0x09f8879e_87e9_4305_a572_4b7be209f857);

    fn catalogue() -> HashMap<MeterId, KnownMeter> {
        [
            (BASE_VM_SIZE_HOURS, "Base VM Size Hours", "Virtual core hours"),
            (WINDOWS_VM_SIZE_HOURS, "Windows VM Size Hours", "Virtual core hours"),
            (BLOB, "Blob 数据 Storage", "GB-hours"),
        ]
        .into_iter()
        .map(|(id, name, unit)| {
            (
                id,
                KnownMeter {
                    name: name.into(),
                    unit: unit.into(),
                },
            )
        })
        .collect()
    }

    fn problems(csv: &str) -> Vec<(u64, String)> {
        match parse(csv.as_bytes(), &catalogue()) {
            Ok(e) => panic!("accepted: {e:?}"),
            Err(r) => r.rows.into_iter().map(|p| (p.row, p.column)).collect(),
        }
    }

    fn header() -> String {
        assert_eq!(
            COLUMNS.join(","),
            crate::types::PRICE_CSV_HEADER,
            "the console shows the same header"
        );
        COLUMNS.join(",")
    }

    #[test]
    fn every_model_survives_a_download_and_an_upload() {
        let entries = vec![
            PriceEntry::per_unit(BASE_VM_SIZE_HOURS, UnitPrice::parse("0.008").unwrap(), "vCPU-hour"),
            PriceEntry {
                meter_id: BLOB,
                model: PricingModel::Graduated {
                    tiers: vec![
                        Tier {
                            from: dec!(0),
                            unit_price: UnitPrice::parse("0.05").unwrap(),
                        },
                        Tier {
                            from: dec!(100),
                            unit_price: UnitPrice::parse("0.04").unwrap(),
                        },
                    ],
                },
                billing_unit: "GB-month".into(),
                conversion: UnitConversion::MONTHLY_FROM_HOURLY,
            },
            PriceEntry {
                meter_id: WINDOWS_VM_SIZE_HOURS,
                model: PricingModel::Package {
                    package_size: dec!(10),
                    package_price: UnitPrice::parse("1.5").unwrap(),
                },
                billing_unit: "10 vCPU-hours".into(),
                conversion: UnitConversion::fixed(dec!(2)).unwrap(),
            },
        ];
        let csv = write(&entries, &catalogue());
        assert!(csv.starts_with(&header()), "{csv}");
        assert!(csv.contains("Blob 数据 Storage"), "non-Latin names survive: {csv}");
        assert_eq!(csv.lines().count(), 5, "a header, one row per tier: {csv}");
        let back = parse(csv.as_bytes(), &catalogue()).unwrap_or_else(|e| panic!("{:?}", e.rows));
        let key = |v: &Vec<PriceEntry>| {
            let mut v = v.clone();
            v.sort_by_key(|e| e.meter_id);
            v
        };
        assert_eq!(key(&back), key(&entries));
        // A volume price reads the same way.
        let volume = csv.replace("graduated", "volume");
        let back = parse(volume.as_bytes(), &catalogue()).unwrap_or_else(|e| panic!("{:?}", e.rows));
        assert!(back
            .iter()
            .any(|e| matches!(e.model, PricingModel::Volume { ref tiers } if tiers.len() == 2)));
    }

    #[test]
    fn defaults_fill_the_unit_and_the_conversion() {
        let csv = format!("meter_id,model,unit_price\n{BASE_VM_SIZE_HOURS},Per-Unit,0.01\n");
        let e = parse(csv.as_bytes(), &catalogue()).unwrap_or_else(|e| panic!("{:?}", e.rows));
        assert_eq!(e[0].billing_unit, "Virtual core hours");
        assert_eq!(e[0].conversion, UnitConversion::IDENTITY);
    }

    #[test]
    fn every_bad_value_is_named_by_row_and_column() {
        let h = header();
        let m = BASE_VM_SIZE_HOURS;
        let csv = format!(
            "{h}\n\
             not-a-guid,,per_unit,,0.1,,,,\n\
             {m},,per_unit,,-0.1,,,,\n\
             00000000-0000-0000-0000-000000000001,,per_unit,,1,,,,\n\
             {WINDOWS_VM_SIZE_HOURS},,tiered,,1,,,,\n\
             {BLOB},,package,,1,,,,\n\
             {BLOB},,per_unit,,1,,0,maybe,\n"
        );
        assert_eq!(
            problems(&csv),
            vec![
                (2, "meter_id".into()),
                (3, "unit_price".into()),
                (4, "meter_id".into()),
                (5, "model".into()),
                (6, "package_size".into()),
                (7, "usage_units_per_billing_unit".into()),
                (7, "per_period_hours".into()),
            ]
        );
    }

    #[test]
    fn tiers_start_at_zero_go_up_and_agree_with_each_other() {
        let h = header();
        let b = BLOB;
        let csv = format!(
            "{h}\n\
             {b},,graduated,10,0.05,GB-month,1,true,\n\
             {BASE_VM_SIZE_HOURS},,graduated,0,0.05,h,1,false,\n\
             {BASE_VM_SIZE_HOURS},,graduated,100,0.04,h,1,false,\n\
             {BASE_VM_SIZE_HOURS},,graduated,50,0.03,h,1,false,\n\
             {BASE_VM_SIZE_HOURS},,volume,200,0.03,h,1,false,\n\
             {BASE_VM_SIZE_HOURS},,graduated,300,0.03,other,1,false,\n\
             {BASE_VM_SIZE_HOURS},,graduated,,0.03,h,1,false,\n\
             {WINDOWS_VM_SIZE_HOURS},,per_unit,,0.03,,,,\n\
             {WINDOWS_VM_SIZE_HOURS},,per_unit,,0.04,,,,\n"
        );
        assert_eq!(
            problems(&csv),
            vec![
                (2, "tier_from".into()),
                (5, "tier_from".into()),
                (6, "model".into()),
                (7, "billing_unit".into()),
                (8, "tier_from".into()),
                (10, "meter_id".into()),
            ]
        );
    }

    #[test]
    fn a_wrong_header_or_encoding_refuses_the_file() {
        assert_eq!(
            problems("meter,price\nx,1\n"),
            vec![
                (1, "meter".into()),
                (1, "price".into()),
                (1, "meter_id".into()),
                (1, "model".into()),
                (1, "unit_price".into()),
            ]
        );
        let mut latin1 = format!("{}\n", header()).into_bytes();
        latin1.extend_from_slice(b"\xe9\n");
        assert!(parse(&latin1, &catalogue()).is_err());
        let many: String = std::iter::once(header())
            .chain((0..MAX_ROWS + 1).map(|_| format!("{BLOB},,per_unit,,1,,,,")))
            .collect::<Vec<_>>()
            .join("\n");
        let rows = problems(&many);
        assert_eq!(rows, vec![((MAX_ROWS + 2) as u64, String::new())]);
    }
}
