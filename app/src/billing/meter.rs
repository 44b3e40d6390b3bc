//! Meters: what Azure Stack measures, in which unit, and whether Stackbill charges for it.

use super::ids::MeterId;
use serde::{Deserialize, Serialize};

/// Whether usage on a meter is charged or only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeterBilling {
    /// Priced through the price sheet; a missing price is reported as *unpriced*.
    Billable,
    /// Shown in usage reports and on invoices as information, never charged.
    ReportOnly,
}

impl MeterBilling {
    /// Stable storage code.
    pub fn as_str(&self) -> &'static str {
        match self {
            MeterBilling::Billable => "billable",
            MeterBilling::ReportOnly => "report_only",
        }
    }

    /// Parses the storage code.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "billable" => Some(MeterBilling::Billable),
            "report_only" => Some(MeterBilling::ReportOnly),
            _ => None,
        }
    }
}

/// `VM size hours` (6DAB500F): every VM emits it beside `Base VM size hours` or
/// `Windows VM size hours`. Pricing it as well would charge each VM twice, so it is
/// report-only (usage FAQ; Cloud Assert's pricing guidance).
pub const VM_SIZE_HOURS: MeterId = MeterId::from_u128(0x6dab500f_a4fd_49c4_956d_229bb9c8c793);
/// `Base VM size hours` (FAB6EB84): vCPU-hours of VMs without a Windows licence.
pub const BASE_VM_SIZE_HOURS: MeterId = MeterId::from_u128(0xfab6eb84_500b_4a09_a8ca_7358f8bbaea5);
/// `Windows VM size hours` (9CD92D4C): vCPU-hours of Windows VMs (the price includes the base).
pub const WINDOWS_VM_SIZE_HOURS: MeterId = MeterId::from_u128(0x9cd92d4c_bafd_4492_b278_bedc2de8232a);
/// `App Service` (190C935E): the worker vCPU-hours Microsoft charges the *operator*; the
/// FAQ tells CSPs to bill tenants on the other App Service meters instead.
pub const APP_SERVICE_OPERATOR_CORES: MeterId = MeterId::from_u128(0x190c935e_9ada_48ff_9ab8_56ea1cf9adaa);

/// The default billing mode of a meter when it enters the catalogue.
pub fn default_billing(id: MeterId) -> MeterBilling {
    if id == VM_SIZE_HOURS || id == APP_SERVICE_OPERATOR_CORES {
        MeterBilling::ReportOnly
    } else {
        MeterBilling::Billable
    }
}

/// A meter as the billing domain sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meter {
    /// Normalised meter ID.
    pub id: MeterId,
    /// Name from the usage FAQ (`Base VM Size Hours`).
    pub name: String,
    /// The unit usage is measured in (`Virtual core hours`, `GB*hours`, `Count of Disks*month`).
    pub unit: String,
    /// The service (`Compute`, `Storage`, `Managed Disks`, …).
    pub service: String,
    /// Billable or report-only.
    pub billing: MeterBilling,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_size_hours_is_report_only_so_vms_are_charged_once() {
        assert_eq!(default_billing(VM_SIZE_HOURS), MeterBilling::ReportOnly);
        assert_eq!(default_billing(BASE_VM_SIZE_HOURS), MeterBilling::Billable);
        assert_eq!(default_billing(WINDOWS_VM_SIZE_HOURS), MeterBilling::Billable);
        assert_eq!(
            VM_SIZE_HOURS,
            MeterId::parse("6DAB500F-A4FD-49C4-956D-229BB9C8C793").unwrap()
        );
        assert_eq!(
            APP_SERVICE_OPERATOR_CORES,
            MeterId::parse("190C935E-9ADA-48FF-9AB8-56EA1CF9ADAA").unwrap()
        );
    }

    #[test]
    fn billing_codes_round_trip() {
        for b in [MeterBilling::Billable, MeterBilling::ReportOnly] {
            assert_eq!(MeterBilling::parse(b.as_str()), Some(b));
        }
        assert_eq!(MeterBilling::parse("free"), None);
    }
}
