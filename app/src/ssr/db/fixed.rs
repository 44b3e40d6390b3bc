//! Fixed-point storage of rollup quantities: `whole + atto / 10^18`.
//!
//! Rollups are summed inside `INSERT … ON CONFLICT DO UPDATE`, and neither engine can
//! add decimal text exactly, but both add 64-bit integers exactly. A quantity is stored as
//! two integers with `0 <= atto < 10^18`; the upsert adds the parts and carries
//! (`atto_a + atto_b < 2·10^18` always fits an i64). A record's quantity is rounded to 18
//! decimal places on the way in (at most 5·10⁻¹⁹ of a unit per record); the record itself
//! keeps its exact text.

use rust_decimal::{Decimal, RoundingStrategy};

/// 10^18.
pub const ATTO_PER_UNIT: i64 = 1_000_000_000_000_000_000;

/// Splits a decimal (which may be negative, for corrections) into `(whole, atto)` with
/// `whole = floor(value)` and `0 <= atto < 10^18`. `None` if `whole` leaves i64.
pub fn to_fixed(value: Decimal) -> Option<(i64, i64)> {
    let rounded = value.round_dp_with_strategy(18, RoundingStrategy::MidpointAwayFromZero);
    let scale = rounded.scale();
    let mantissa = rounded.mantissa();
    let scaled: i128 = mantissa.checked_mul(10_i128.pow(18 - scale))?;
    let whole = scaled.div_euclid(i128::from(ATTO_PER_UNIT));
    let atto = scaled.rem_euclid(i128::from(ATTO_PER_UNIT));
    Some((i64::try_from(whole).ok()?, atto as i64))
}

/// Joins `(whole, atto)` back into a decimal.
pub fn from_fixed(whole: i64, atto: i64) -> Decimal {
    let total = i128::from(whole) * i128::from(ATTO_PER_UNIT) + i128::from(atto);
    match Decimal::try_from_i128_with_scale(total, 18) {
        Ok(d) => d.normalize(),
        // Beyond ~7.9·10¹⁰ units the 96-bit mantissa cannot keep 18 decimals; keep the
        // whole part and as many decimals as fit.
        Err(_) => Decimal::from(whole) + Decimal::from_i128_with_scale(i128::from(atto), 18),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn fixed_point_round_trips_published_quantities() {
        for q in [
            dec!(0),
            dec!(2.4),
            dec!(16.46),
            dec!(0.0013440860215053762),
            dec!(123456789.5),
        ] {
            let (w, a) = to_fixed(q).unwrap();
            assert!((0..ATTO_PER_UNIT).contains(&a));
            let back = from_fixed(w, a);
            assert_eq!(back, q.round_dp(18).normalize(), "{q}");
        }
        // 6.448477506637573e-06 has 21 decimals: rounded to 18 on the way into a rollup.
        let (w, a) = to_fixed(dec!(0.000006448477506637573)).unwrap();
        assert_eq!((w, a), (0, 6_448_477_506_638));
    }

    #[test]
    fn negative_deltas_floor_the_whole_part() {
        assert_eq!(to_fixed(dec!(-0.25)).unwrap(), (-1, 750_000_000_000_000_000));
        assert_eq!(from_fixed(-1, 750_000_000_000_000_000), dec!(-0.25));
        assert_eq!(to_fixed(dec!(-2)).unwrap(), (-2, 0));
    }

    proptest! {
        #[test]
        fn adding_fixed_parts_with_carry_equals_adding_decimals(
            a in 0i64..1_000_000_000_000, sa in 0u32..18, b in -1_000_000_000_000i64..1_000_000_000_000, sb in 0u32..18
        ) {
            let x = Decimal::new(a, sa);
            let y = Decimal::new(b, sb);
            let (xw, xa) = to_fixed(x).unwrap();
            let (yw, ya) = to_fixed(y).unwrap();
            // What the upsert does in SQL:
            let sum_atto = xa + ya;
            let whole = xw + yw + sum_atto / ATTO_PER_UNIT;
            let atto = sum_atto % ATTO_PER_UNIT;
            prop_assert_eq!(from_fixed(whole, atto), (x + y).normalize());
        }
    }
}
