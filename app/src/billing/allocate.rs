//! Splitting a rounded amount into rounded parts that add up to it exactly.
//!
//! An invoice charges each rated line rounded to the cent; a dashboard breaks that money
//! down by day, user subscription and resource. Rounding every part on its own would make
//! the parts miss the line by a cent here and there, so a customer's explorer would not add
//! up to its invoice. [`allocate`] is the largest-remainder method: every part gets its
//! proportional amount rounded toward zero, and the minor units left over go one each to
//! the parts with the largest remainders (the earlier part on a tie, so it is
//! deterministic).

use rust_decimal::Decimal;

/// Splits `total` in proportion to `weights` into parts with `exponent` decimals whose sum
/// is `total` rounded to `exponent` decimals. Weights are taken by magnitude (the shares of
/// one line all have its sign); when they are all zero the total is split evenly. An empty
/// `weights` gives no parts.
pub fn allocate(total: Decimal, weights: &[Decimal], exponent: u32) -> Vec<Decimal> {
    if weights.is_empty() {
        return Vec::new();
    }
    let unit = Decimal::new(1, exponent);
    let negative = total.is_sign_negative();
    let total = total
        .abs()
        .round_dp_with_strategy(exponent, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let mut magnitudes: Vec<Decimal> = weights.iter().map(|w| w.abs()).collect();
    let mut sum: Decimal = magnitudes.iter().sum();
    if sum.is_zero() {
        magnitudes.iter_mut().for_each(|m| *m = Decimal::ONE);
        sum = Decimal::from(magnitudes.len());
    }
    let mut parts = Vec::with_capacity(magnitudes.len());
    let mut remainders = Vec::with_capacity(magnitudes.len());
    let mut given = Decimal::ZERO;
    for (i, m) in magnitudes.iter().enumerate() {
        // total × m / sum, in minor units, without overflowing for large weights.
        let exact = total * (*m / sum);
        let floor = exact.trunc_with_scale(exponent);
        given += floor;
        parts.push(floor);
        remainders.push((exact - floor, i));
    }
    let mut left = ((total - given) / unit)
        .round()
        .to_string()
        .parse::<usize>()
        .unwrap_or(0);
    // Largest remainder first; the earlier part wins a tie.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders.iter().cycle() {
        if left == 0 {
            break;
        }
        parts[*i] += unit;
        left -= 1;
    }
    if negative {
        parts.iter_mut().for_each(|p| *p = -*p);
    }
    for p in &mut parts {
        p.rescale(exponent);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn three_equal_thirds_of_a_euro_give_the_odd_cent_to_the_first() {
        assert_eq!(
            allocate(dec!(1.00), &[dec!(1), dec!(1), dec!(1)], 2),
            vec![dec!(0.34), dec!(0.33), dec!(0.33)]
        );
    }

    #[test]
    fn the_largest_remainder_gets_the_cent_not_the_largest_weight() {
        // 10.00 over 0.333, 0.333, 0.334 of the precise amount.
        let parts = allocate(dec!(10.00), &[dec!(3.333), dec!(3.333), dec!(3.334)], 2);
        assert_eq!(parts, vec![dec!(3.33), dec!(3.33), dec!(3.34)]);
        let parts = allocate(dec!(0.05), &[dec!(0.0149), dec!(0.0151), dec!(0.0200)], 2);
        assert_eq!(parts.iter().sum::<Decimal>(), dec!(0.05));
        assert_eq!(parts, vec![dec!(0.01), dec!(0.02), dec!(0.02)]);
    }

    #[test]
    fn zero_weights_split_evenly_and_credits_stay_negative() {
        assert_eq!(
            allocate(dec!(0.10), &[Decimal::ZERO; 3], 2),
            vec![dec!(0.04), dec!(0.03), dec!(0.03)]
        );
        assert_eq!(
            allocate(dec!(-1.00), &[dec!(-2), dec!(-1)], 2),
            vec![dec!(-0.67), dec!(-0.33)]
        );
        assert!(allocate(dec!(5), &[], 2).is_empty());
        // A currency without minor units.
        assert_eq!(allocate(dec!(100), &[dec!(1), dec!(2)], 0), vec![dec!(33), dec!(67)]);
    }

    proptest! {
        #[test]
        fn parts_add_up_to_the_total_and_each_is_within_a_unit_of_its_share(
            cents in -10_000_000i64..10_000_000,
            weights in proptest::collection::vec(0u64..1_000_000_000, 1..60),
            exponent in 0u32..4,
        ) {
            let total = Decimal::new(cents, exponent);
            let weights: Vec<Decimal> = weights.into_iter().map(|w| Decimal::new(w as i64, 6)).collect();
            let parts = allocate(total, &weights, exponent);
            prop_assert_eq!(parts.len(), weights.len());
            prop_assert_eq!(parts.iter().sum::<Decimal>(), total);
            let sum: Decimal = weights.iter().sum();
            let unit = Decimal::new(1, exponent);
            for (p, w) in parts.iter().zip(&weights) {
                prop_assert_eq!(p.scale(), exponent);
                let share = if sum.is_zero() { total / Decimal::from(weights.len()) } else { total * (*w / sum) };
                prop_assert!((*p - share).abs() < unit, "{} vs {}", p, share);
            }
        }
    }
}
