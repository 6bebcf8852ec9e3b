//! Exact amounts: a decimal numerator over a whole-number denominator, so that every amount is
//! built from multiplications and sums and divided once, when it is rounded.
//!
//! Why not plain [`Decimal`]: `2.50 / 30 × 9` is `0.0833…3 × 9 = 0.7499…97`, a cent low once
//! halved and rounded (issue 15: 0.37 instead of 0.38), and a ratio of two such values can floor
//! a whole number of days one short. A fraction keeps `2.50 × 9 / 30 = 22.50 / 30` exact until
//! [`Exact::round`] divides once; a single division cannot land on the wrong side of a
//! half-cent, because a fraction with a small denominator is either exactly on it (and then the
//! 28-digit quotient is exact too) or at least `1 / (200 × den)` away from it.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use super::round;
use super::term::Share;
use crate::api::common::Money;

/// `num / den`, `den > 0`; not rounded.
#[derive(Clone, Copy, Debug)]
pub struct Exact {
    num: Decimal,
    den: Decimal,
}

impl Exact {
    pub const ZERO: Exact = Exact {
        num: Decimal::ZERO,
        den: Decimal::ONE,
    };

    /// A decimal amount as it is.
    pub fn of(amount: Decimal) -> Self {
        Exact {
            num: amount,
            den: Decimal::ONE,
        }
    }

    /// `self × n / d` (`d > 0`), still exact.
    pub fn times(self, n: i64, d: i64) -> Self {
        debug_assert!(d > 0, "a fraction's denominator is positive");
        match (
            self.num.checked_mul(Decimal::from(n)),
            self.den.checked_mul(Decimal::from(d)),
        ) {
            (Some(num), Some(den)) => Exact { num, den },
            // Beyond 28 digits: divide early; the error is far below a cent.
            _ => Exact::of(self.value() * Decimal::from(n) / Decimal::from(d)),
        }
    }

    /// `self × share`.
    pub fn share(self, share: Share) -> Self {
        if share.denominator == 0 {
            return Exact::ZERO;
        }
        self.times(share.numerator, share.denominator)
    }

    /// The sum, exact while the common denominator fits.
    pub fn plus(self, other: Exact) -> Self {
        if self.den == other.den
            && let Some(num) = self.num.checked_add(other.num)
        {
            return Exact { num, den: self.den };
        }
        let exact = || {
            let num = self
                .num
                .checked_mul(other.den)?
                .checked_add(other.num.checked_mul(self.den)?)?;
            Some(Exact {
                num,
                den: self.den.checked_mul(other.den)?,
            })
        };
        exact().unwrap_or_else(|| Exact::of(self.value() + other.value()))
    }

    /// The difference.
    pub fn minus(self, other: Exact) -> Self {
        self.plus(Exact {
            num: -other.num,
            den: other.den,
        })
    }

    /// The one division, to 28 digits.
    pub fn value(self) -> Decimal {
        self.num / self.den
    }

    /// The amount, rounded by the module's one rule.
    pub fn round(self) -> Money {
        round(self.value())
    }

    /// Whether the amount is above zero.
    pub fn is_positive(self) -> bool {
        self.num > Decimal::ZERO
    }

    /// `floor(self × n / other)` exactly, for `other > 0`: the whole days an amount buys.
    pub fn floor_ratio(self, n: i64, other: Exact) -> Option<i64> {
        // self × n / other = (num × n × other.den) / (den × other.num)
        let top = self
            .num
            .checked_mul(Decimal::from(n))?
            .checked_mul(other.den)?;
        let bottom = self.den.checked_mul(other.num)?;
        if bottom <= Decimal::ZERO {
            return None;
        }
        let mut q = (top / bottom).floor();
        // The quotient is rounded to 28 digits; settle the last step with exact products.
        while q * bottom > top {
            q -= Decimal::ONE;
        }
        while (q + Decimal::ONE) * bottom <= top {
            q += Decimal::ONE;
        }
        i64::try_from(q).ok()
    }
}

impl PartialEq for Exact {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Exact {}

impl PartialOrd for Exact {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Exact {
    fn cmp(&self, other: &Self) -> Ordering {
        match (
            self.num.checked_mul(other.den),
            other.num.checked_mul(self.den),
        ) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.value().cmp(&other.value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::testing::money;

    #[test]
    fn a_midpoint_survives_until_the_one_division() {
        // 2.50 a month, 9 days, 50 %: 2.50 × 9 × 50 / (30 × 100) = 0.375 → 0.38.
        let fee = Exact::of(money("2.50").0).times(9 * 50, 30 * 100);
        assert_eq!(fee.round(), money("0.38"));
        // Dividing first loses the half cent.
        let early = money("2.50").0 / Decimal::from(30) * Decimal::from(9) * Decimal::from(50)
            / Decimal::ONE_HUNDRED;
        assert_eq!(round(early), money("0.37"));
    }

    #[test]
    fn sums_of_thirds_stay_whole() {
        let third = Exact::of(Decimal::ONE).times(1, 3);
        assert_eq!(third.plus(third).plus(third), Exact::of(Decimal::ONE));
        let sixth = Exact::of(Decimal::ONE).times(1, 6);
        assert_eq!(third.plus(sixth).round(), money("0.50"));
    }

    #[test]
    fn floor_ratio_is_exact_at_whole_numbers() {
        // 10 days worth 10/31 × 10.00 at 10/31 × 5.00 a day-share: exactly 20.
        let credit = Exact::of(money("10.00").0).times(10, 31);
        let debit = Exact::of(money("5.00").0).times(10, 31);
        assert_eq!(credit.floor_ratio(10, debit), Some(20));
        assert_eq!(
            Exact::of(Decimal::from(15)).floor_ratio(1, Exact::of(Decimal::from(2))),
            Some(7)
        );
    }
}
