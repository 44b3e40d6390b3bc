//! Exact fixed-point storage of rollup quantities: `whole + atto / 10^18 + frac / 10^28`.
//!
//! Rollups are summed inside `INSERT … ON CONFLICT DO UPDATE`, and neither engine can add
//! decimal text exactly, but both add 64-bit integers exactly. A quantity is stored as
//! three integers with `0 <= atto < 10^18` and `0 <= frac < 10^10`; the upsert adds the
//! parts and carries. 28 decimal places is every digit a usage quantity can carry (the
//! validator parses into a `Decimal`, whose scale is at most 28), so a rollup is the
//! **exact** sum of its records, whatever the batching.
//!
//! Deltas are accumulated in Rust with [`ExactSum`] (integers), never by adding
//! `Decimal`s: a `Decimal` has 28–29 significant digits, so `1000 + 10^-28` would already
//! be rounded.
//!
//! Reading a rollup back into a `Decimal` ([`from_fixed`]) is exact while the sum has at
//! most 28 significant digits (any realistic meter-day); beyond that the value is rounded
//! to the 28–29 digits a `Decimal` holds — the rollup row itself stays exact.

use rust_decimal::Decimal;

/// 10^18: atto units per unit.
pub const ATTO_PER_UNIT: i64 = 1_000_000_000_000_000_000;
/// 10^10: frac units (10^-28) per atto unit.
pub const FRAC_PER_ATTO: i64 = 10_000_000_000;
/// 10^28: the finest unit, per unit.
const FINE_PER_UNIT: i128 = 10_000_000_000_000_000_000_000_000_000;

/// An exact sum of decimals with up to 28 decimal places: whole units plus a fraction in
/// 10^-28 units (`0 <= fine < 10^28`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExactSum {
    whole: i128,
    fine: i128,
}

impl ExactSum {
    /// Zero.
    pub const ZERO: ExactSum = ExactSum { whole: 0, fine: 0 };

    /// The exact value of a decimal (negative values floor the whole part).
    pub fn of(value: Decimal) -> ExactSum {
        let scale = value.scale();
        let pow = 10_i128.pow(scale);
        let mantissa = value.mantissa();
        ExactSum {
            whole: mantissa.div_euclid(pow),
            // remainder < 10^scale <= 10^28, so the product stays below 10^28.
            fine: mantissa.rem_euclid(pow) * 10_i128.pow(28 - scale),
        }
    }

    /// Adds a decimal exactly.
    pub fn add(&mut self, value: Decimal) {
        self.add_sum(ExactSum::of(value));
    }

    /// Adds another sum exactly.
    pub fn add_sum(&mut self, other: ExactSum) {
        let fine = self.fine + other.fine;
        self.whole += other.whole + fine.div_euclid(FINE_PER_UNIT);
        self.fine = fine.rem_euclid(FINE_PER_UNIT);
    }

    /// Whether the sum is zero.
    pub fn is_zero(&self) -> bool {
        self.whole == 0 && self.fine == 0
    }

    /// The storage parts `(whole, atto, frac)`; `None` if `whole` leaves i64.
    pub fn parts(&self) -> Option<(i64, i64, i64)> {
        let whole = i64::try_from(self.whole).ok()?;
        let atto = (self.fine / i128::from(FRAC_PER_ATTO)) as i64;
        let frac = (self.fine % i128::from(FRAC_PER_ATTO)) as i64;
        Some((whole, atto, frac))
    }

    /// From storage parts.
    pub fn from_parts(whole: i64, atto: i64, frac: i64) -> ExactSum {
        let mut s = ExactSum {
            whole: i128::from(whole),
            fine: 0,
        };
        s.add_sum(ExactSum {
            whole: 0,
            fine: i128::from(atto) * i128::from(FRAC_PER_ATTO) + i128::from(frac),
        });
        s
    }

    /// As a decimal (rounded only beyond the ~28 significant digits a `Decimal` holds).
    pub fn to_decimal(&self) -> Decimal {
        let fraction = Decimal::from_i128_with_scale(self.fine, 28);
        if self.whole == 0 {
            return fraction.normalize();
        }
        // Whole parts beyond a Decimal's range saturate (no meter comes near 7.9·10^28).
        let whole = Decimal::try_from_i128_with_scale(self.whole, 0).unwrap_or(Decimal::MAX);
        whole.checked_add(fraction).unwrap_or(whole).normalize()
    }
}

/// The storage parts of one decimal; `None` if it is beyond i64 whole units.
pub fn to_fixed(value: Decimal) -> Option<(i64, i64, i64)> {
    ExactSum::of(value).parts()
}

/// Joins storage parts back into a decimal.
pub fn from_fixed(whole: i64, atto: i64, frac: i64) -> Decimal {
    ExactSum::from_parts(whole, atto, frac).to_decimal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn fixed_point_round_trips_every_digit_of_published_quantities() {
        for q in [
            dec!(0),
            dec!(2.4),
            dec!(16.46),
            dec!(0.0013440860215053762),
            dec!(0.000006448477506637573),
            dec!(123456789.5),
            dec!(0.0000000000000000000000000001),
            dec!(1000000000000000),
        ] {
            let (w, a, f) = to_fixed(q).unwrap();
            assert!((0..ATTO_PER_UNIT).contains(&a));
            assert!((0..FRAC_PER_ATTO).contains(&f));
            assert_eq!(from_fixed(w, a, f), q.normalize(), "{q}");
        }
        // 21 decimals are kept whole now (the 18-decimal rollups rounded them).
        assert_eq!(
            to_fixed(dec!(0.000006448477506637573)).unwrap(),
            (0, 6_448_477_506_637, 5_730_000_000)
        );
    }

    #[test]
    fn negative_deltas_floor_the_whole_part() {
        assert_eq!(to_fixed(dec!(-0.25)).unwrap(), (-1, 750_000_000_000_000_000, 0));
        assert_eq!(from_fixed(-1, 750_000_000_000_000_000, 0), dec!(-0.25));
        assert_eq!(to_fixed(dec!(-2)).unwrap(), (-2, 0, 0));
    }

    #[test]
    fn sums_that_a_decimal_would_round_stay_exact() {
        // 1000 + 10^-28 needs 32 significant digits: a Decimal sum rounds it away.
        let tiny = dec!(0.0000000000000000000000000001);
        assert_eq!(dec!(1000) + tiny, dec!(1000));
        let mut s = ExactSum::ZERO;
        s.add(dec!(1000));
        s.add(tiny);
        assert_eq!(s.parts().unwrap(), (1000, 0, 1));
        s.add(-tiny);
        assert_eq!(s.parts().unwrap(), (1000, 0, 0));
    }

    proptest! {
        #[test]
        fn adding_stored_parts_with_carry_equals_the_exact_sum(
            a in 0i64..1_000_000_000_000, sa in 0u32..28, b in -1_000_000_000_000i64..1_000_000_000_000, sb in 0u32..28
        ) {
            let x = Decimal::new(a, sa);
            let y = Decimal::new(b, sb);
            let (xw, xa, xf) = to_fixed(x).unwrap();
            let (yw, ya, yf) = to_fixed(y).unwrap();
            // What the upsert does in SQL:
            let frac_sum = xf + yf;
            let atto_sum = xa + ya + frac_sum / FRAC_PER_ATTO;
            let whole = xw + yw + atto_sum / ATTO_PER_UNIT;
            let atto = atto_sum % ATTO_PER_UNIT;
            let frac = frac_sum % FRAC_PER_ATTO;
            let mut exact = ExactSum::of(x);
            exact.add(y);
            prop_assert_eq!((whole, atto, frac), exact.parts().unwrap());
            prop_assert_eq!(from_fixed(whole, atto, frac), (x + y).normalize());
        }
    }
}
