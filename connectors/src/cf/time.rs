//! CF time coordinates: `<unit> since <reference date>` on the CF calendars
//! (CF 1.11 section 4.4.1), decoded as cftime/xarray decode them.
//!
//! Calendars whose dates Gregorian can hold become Arrow timestamps (µs, no
//! time zone): `standard`/`gregorian` (Julian before 1582-10-15),
//! `proleptic_gregorian`, and the model calendars `noleap`/`365_day`,
//! `all_leap`/`366_day` and `julian`, whose dates are exposed as the timestamp
//! of the same nominal date (an `all_leap` 29 February of a common year becomes
//! 1 March). `360_day` dates (30 February exists) are exposed as strings
//! `YYYY-MM-DD HH:MM:SS`.

use std::fmt;

/// Microseconds per day.
const US_PER_DAY: i64 = 86_400_000_000;

/// A CF calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Calendar {
    /// `standard` / `gregorian`: Julian before 1582-10-15, Gregorian after.
    Standard,
    /// `proleptic_gregorian`.
    ProlepticGregorian,
    /// `noleap` / `365_day`.
    NoLeap,
    /// `all_leap` / `366_day`.
    AllLeap,
    /// `julian`.
    Julian,
    /// `360_day`.
    Day360,
}

impl Calendar {
    /// Parses a CF `calendar` attribute (case-insensitive); `None` when unknown.
    pub fn parse(s: &str) -> Option<Calendar> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "standard" | "gregorian" | "" => Calendar::Standard,
            "proleptic_gregorian" => Calendar::ProlepticGregorian,
            "noleap" | "365_day" => Calendar::NoLeap,
            "all_leap" | "366_day" => Calendar::AllLeap,
            "julian" => Calendar::Julian,
            "360_day" => Calendar::Day360,
            _ => return None,
        })
    }

    /// Whether decoded dates are strings rather than timestamps.
    pub fn is_string(self) -> bool {
        self == Calendar::Day360
    }

    /// Day number of a date in this calendar (an arbitrary but fixed epoch per calendar).
    fn day_number(self, y: i64, m: i64, d: i64) -> i64 {
        match self {
            Calendar::ProlepticGregorian => gregorian_jdn(y, m, d),
            Calendar::Julian => julian_jdn(y, m, d),
            Calendar::Standard => {
                if (y, m, d) >= (1582, 10, 15) {
                    gregorian_jdn(y, m, d)
                } else {
                    julian_jdn(y, m, d)
                }
            }
            Calendar::NoLeap => y * 365 + CUM_NOLEAP[(m - 1).clamp(0, 11) as usize] + d - 1,
            Calendar::AllLeap => y * 366 + CUM_LEAP[(m - 1).clamp(0, 11) as usize] + d - 1,
            Calendar::Day360 => y * 360 + (m - 1) * 30 + d - 1,
        }
    }

    /// The date of a day number in this calendar.
    fn date(self, n: i64) -> (i64, i64, i64) {
        match self {
            Calendar::ProlepticGregorian => gregorian_from_jdn(n),
            Calendar::Julian => julian_from_jdn(n),
            Calendar::Standard => {
                if n >= 2_299_161 {
                    gregorian_from_jdn(n)
                } else {
                    julian_from_jdn(n)
                }
            }
            Calendar::NoLeap => month_table(n, 365, &CUM_NOLEAP),
            Calendar::AllLeap => month_table(n, 366, &CUM_LEAP),
            Calendar::Day360 => {
                let y = n.div_euclid(360);
                let r = n.rem_euclid(360);
                (y, r / 30 + 1, r % 30 + 1)
            }
        }
    }
}

const CUM_NOLEAP: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
const CUM_LEAP: [i64; 12] = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335];

fn month_table(n: i64, len: i64, cum: &[i64; 12]) -> (i64, i64, i64) {
    let y = n.div_euclid(len);
    let r = n.rem_euclid(len);
    let m = cum.iter().rposition(|c| *c <= r).unwrap_or(0);
    (y, m as i64 + 1, r - cum[m] + 1)
}

fn gregorian_jdn(y: i64, m: i64, d: i64) -> i64 {
    let a = (14 - m).div_euclid(12);
    let y2 = y + 4800 - a;
    let m2 = m + 12 * a - 3;
    d + (153 * m2 + 2).div_euclid(5) + 365 * y2 + y2.div_euclid(4) - y2.div_euclid(100)
        + y2.div_euclid(400)
        - 32045
}

fn julian_jdn(y: i64, m: i64, d: i64) -> i64 {
    let a = (14 - m).div_euclid(12);
    let y2 = y + 4800 - a;
    let m2 = m + 12 * a - 3;
    d + (153 * m2 + 2).div_euclid(5) + 365 * y2 + y2.div_euclid(4) - 32083
}

fn gregorian_from_jdn(j: i64) -> (i64, i64, i64) {
    let a = j + 32044;
    let b = (4 * a + 3).div_euclid(146_097);
    let c = a - (146_097 * b).div_euclid(4);
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2).div_euclid(153);
    let day = e - (153 * m + 2).div_euclid(5) + 1;
    let month = m + 3 - 12 * m.div_euclid(10);
    let year = 100 * b + d - 4800 + m.div_euclid(10);
    (year, month, day)
}

fn julian_from_jdn(j: i64) -> (i64, i64, i64) {
    let c = j + 32082;
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2).div_euclid(153);
    let day = e - (153 * m + 2).div_euclid(5) + 1;
    let month = m + 3 - 12 * m.div_euclid(10);
    let year = d - 4800 + m.div_euclid(10);
    (year, month, day)
}

const UNIX_EPOCH_JDN: i64 = 2_440_588;

/// Largest absolute year of a reference date. Far beyond any CF dataset, yet
/// small enough that day numbers and microseconds cannot overflow `i64`.
const MAX_YEAR: i64 = 10_000_000;

/// A time unit parse failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeUnitsError(pub String);

impl fmt::Display for TimeUnitsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How to turn the numbers of a CF time variable into dates.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimeDecoding {
    /// Length of one unit in microseconds.
    pub unit_us: i64,
    /// The reference date's day number in `calendar`.
    pub ref_day: i64,
    /// The reference time of day in microseconds, time-zone offset applied.
    pub ref_tod_us: i64,
    /// The calendar.
    pub calendar: Calendar,
    /// The `units` attribute, for display.
    pub units: String,
}

impl TimeDecoding {
    /// Parses `units` (`<unit> since <date>`) and `calendar`.
    ///
    /// Returns `Ok(None)` when `units` is not a time unit (no `since`).
    ///
    /// # Errors
    /// A time unit with an unparseable date or unknown calendar.
    pub fn parse(units: &str, calendar: Option<&str>) -> Result<Option<Self>, TimeUnitsError> {
        let lower = units.trim().to_ascii_lowercase();
        let Some((unit, date)) = lower.split_once(" since ") else {
            return Ok(None);
        };
        let unit_us = match unit.trim() {
            "days" | "day" | "d" => US_PER_DAY,
            "hours" | "hour" | "hrs" | "hr" | "h" => 3_600_000_000,
            "minutes" | "minute" | "mins" | "min" => 60_000_000,
            "seconds" | "second" | "secs" | "sec" | "s" => 1_000_000,
            "milliseconds" | "millisecond" | "msecs" | "msec" | "ms" => 1_000,
            "microseconds" | "microsecond" | "usecs" | "usec" | "us" => 1,
            other => {
                return Err(TimeUnitsError(format!(
                    "unsupported time unit '{other}' in '{units}'"
                )));
            }
        };
        let cal_str = calendar.unwrap_or("standard");
        let calendar = Calendar::parse(cal_str)
            .ok_or_else(|| TimeUnitsError(format!("unsupported calendar '{cal_str}'")))?;
        let (y, m, d, tod, tz) = parse_datetime(date.trim())
            .ok_or_else(|| TimeUnitsError(format!("cannot parse reference date in '{units}'")))?;
        let ref_tod_us = tod - tz;
        let ref_day = calendar.day_number(y, m, d);
        Ok(Some(TimeDecoding {
            unit_us,
            ref_day,
            ref_tod_us,
            calendar,
            units: units.to_string(),
        }))
    }

    /// Microseconds of a value after the reference (`None` if out of range).
    fn offset_us(&self, v: f64) -> Option<i64> {
        let us = (v * self.unit_us as f64).round();
        (us.is_finite() && us.abs() < 9.0e18).then_some(us as i64)
    }

    /// The nominal date and time of a value: (year, month, day, µs of day).
    pub fn nominal(&self, v: f64) -> Option<(i64, i64, i64, i64)> {
        let total = self.offset_us(v)?.checked_add(self.ref_tod_us)?;
        let days = total.div_euclid(US_PER_DAY);
        let tod = total.rem_euclid(US_PER_DAY);
        let (y, m, d) = self.calendar.date(self.ref_day.checked_add(days)?);
        Some((y, m, d, tod))
    }

    /// The value as µs since 1970-01-01 of its nominal date (`None` for
    /// `360_day` or out of range).
    pub fn to_timestamp_us(&self, v: f64) -> Option<i64> {
        if self.calendar.is_string() {
            return None;
        }
        let (y, m, d, tod) = self.nominal(v)?;
        (gregorian_jdn(y, m, d) - UNIX_EPOCH_JDN)
            .checked_mul(US_PER_DAY)?
            .checked_add(tod)
    }

    /// The value as a `YYYY-MM-DD HH:MM:SS` string of its nominal date.
    pub fn to_string_value(&self, v: f64) -> Option<String> {
        let (y, m, d, tod) = self.nominal(v)?;
        let s = tod / 1_000_000;
        Some(format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            s / 3600,
            (s / 60) % 60,
            s % 60
        ))
    }

    /// The inverse of [`Self::to_timestamp_us`] for the linear calendars
    /// (`proleptic_gregorian`, and `standard` after 1582): the stored number
    /// of a timestamp. Used to turn timestamp filters into index ranges.
    pub fn is_linear(&self) -> bool {
        self.calendar == Calendar::ProlepticGregorian
            || (self.calendar == Calendar::Standard && self.ref_day >= 2_299_161)
    }
}

/// Parses `YYYY-M-D[( |T)H:M[:S[.f]]][ ][Z|UTC|±H[H][:MM]]`; returns
/// (year, month, day, µs of day, time-zone offset in µs).
fn parse_datetime(s: &str) -> Option<(i64, i64, i64, i64, i64)> {
    let s = s
        .trim()
        .trim_end_matches("utc")
        .trim_end_matches('z')
        .trim();
    let (date, rest) = match s.find([' ', 't']) {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (s, ""),
    };
    let (neg_year, date) = match date.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, date),
    };
    let mut dp = date.split('-');
    let mut y: i64 = dp.next()?.parse().ok()?;
    if neg_year {
        y = -y;
    }
    if y.abs() > MAX_YEAR {
        return None;
    }
    let m: i64 = dp.next().map_or(Some(1), |x| x.parse().ok())?;
    let d: i64 = dp.next().map_or(Some(1), |x| x.parse().ok())?;
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    if rest.is_empty() {
        return Some((y, m, d, 0, 0));
    }
    // split time and zone
    let zone_at = rest.find(['+', '-', ' ']);
    let (time, zone) = match zone_at {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let mut tp = time.split(':');
    let h: i64 = tp.next()?.trim().parse().ok()?;
    let mi: i64 = tp.next().map_or(Some(0), |x| x.trim().parse().ok())?;
    let sec: f64 = tp.next().map_or(Some(0.0), |x| x.trim().parse().ok())?;
    if !(0..=24).contains(&h) || !(0..60).contains(&mi) || !(0.0..61.0).contains(&sec) {
        return None;
    }
    let tod = h * 3_600_000_000 + mi * 60_000_000 + (sec * 1e6).round() as i64;
    let tz = parse_zone(zone)?;
    Some((y, m, d, tod, tz))
}

fn parse_zone(z: &str) -> Option<i64> {
    let z = z.trim();
    if z.is_empty() {
        return Some(0);
    }
    let (sign, body) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    let (h, m) = if let Some((h, m)) = body.split_once(':') {
        (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?)
    } else if body.len() == 4 {
        // `get`: a non-ASCII body has no byte 2 boundary to slice at.
        (
            body.get(..2)?.parse::<i64>().ok()?,
            body.get(2..)?.parse::<i64>().ok()?,
        )
    } else {
        (body.parse::<i64>().ok()?, 0)
    };
    if !(0..=24).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    Some(sign * (h * 3_600_000_000 + m * 60_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(units: &str, cal: Option<&str>, v: f64) -> i64 {
        TimeDecoding::parse(units, cal)
            .unwrap()
            .unwrap()
            .to_timestamp_us(v)
            .unwrap()
    }

    #[test]
    fn standard_units() {
        // 1993-01-01 is 15706 days after 1950-01-01
        assert_eq!(
            ts("days since 1950-01-01 00:00:00", None, 15706.0),
            725_846_400_000_000
        );
        assert_eq!(
            ts("hours since 1900-01-01 00:00:0.0", None, 24.0),
            ts("days since 1900-01-01", None, 1.0)
        );
        assert_eq!(
            ts("seconds since 1970-01-01T00:00:00Z", None, 1.5),
            1_500_000
        );
        assert_eq!(
            ts("days since 1970-01-01 00:00:00 +01:00", None, 0.0),
            -3_600_000_000
        );
        assert_eq!(
            ts("days since 1970-1-1", Some("proleptic_gregorian"), -1.0),
            -US_PER_DAY
        );
    }

    #[test]
    fn noleap_skips_feb_29() {
        // 2000-02-28 + 1 day in noleap is 2000-03-01
        let a = ts("days since 2000-02-28", Some("noleap"), 1.0);
        let b = ts("days since 2000-03-01", Some("proleptic_gregorian"), 0.0);
        assert_eq!(a, b);
        // year 1 of a model calendar fits a µs timestamp
        assert!(
            TimeDecoding::parse("days since 0001-01-01", Some("noleap"))
                .unwrap()
                .unwrap()
                .to_timestamp_us(0.0)
                .is_some()
        );
    }

    #[test]
    fn julian_and_mixed() {
        // Julian 1582-10-04 is followed by Gregorian 1582-10-15 in the standard calendar
        let d = TimeDecoding::parse("days since 1582-10-04", Some("standard"))
            .unwrap()
            .unwrap();
        assert_eq!(
            d.nominal(1.0).map(|x| (x.0, x.1, x.2)),
            Some((1582, 10, 15))
        );
        let j = TimeDecoding::parse("days since 2000-02-28", Some("julian"))
            .unwrap()
            .unwrap();
        assert_eq!(j.nominal(1.0).map(|x| (x.0, x.1, x.2)), Some((2000, 2, 29)));
        assert_eq!(
            j.nominal(13.0).map(|x| (x.0, x.1, x.2)),
            Some((2000, 3, 12))
        );
    }

    #[test]
    fn day360_strings() {
        let d = TimeDecoding::parse("days since 2000-01-01", Some("360_day"))
            .unwrap()
            .unwrap();
        assert_eq!(
            d.to_string_value(59.5).as_deref(),
            Some("2000-02-30 12:00:00")
        );
        assert_eq!(d.to_timestamp_us(1.0), None);
    }

    #[test]
    fn bad_units() {
        assert!(TimeDecoding::parse("days since yesterday", None).is_err());
        assert!(TimeDecoding::parse("fortnights since 2000-01-01", None).is_err());
        assert!(TimeDecoding::parse("days since 2000-01-01", Some("martian")).is_err());
        assert_eq!(TimeDecoding::parse("m s-1", None), Ok(None));
    }

    /// Reference dates and zones that once overflowed or sliced inside a
    /// character (found while writing the `cf_attributes` fuzz target):
    /// rejected as unparseable units, never a panic.
    #[test]
    fn absurd_reference_dates_are_rejected() {
        for units in [
            "days since 9223372036854775807-01-01",
            "days since -9223372036854775807-01-01",
            "hours since 99999999-01-01",
            "seconds since 2000-01-01 00:00 +9999999999999",
            "seconds since 2000-01-01 00:00 +1\u{e9}1",
            "seconds since 2000-01-01 00:00 -99:99",
        ] {
            for cal in ["standard", "noleap", "360_day", "all_leap", "julian"] {
                assert!(
                    TimeDecoding::parse(units, Some(cal)).is_err(),
                    "{units} ({cal}) must be rejected"
                );
            }
        }
        // The largest accepted year still decodes without overflow.
        let t = TimeDecoding::parse("days since 10000000-01-01", Some("noleap"))
            .expect("parses")
            .expect("a time unit");
        assert_eq!(
            t.to_string_value(0.0).as_deref(),
            Some("10000000-01-01 00:00:00")
        );
        // Beyond the timestamp range: NULL, not an overflow.
        assert_eq!(t.to_timestamp_us(0.0), None);
        assert_eq!(t.to_string_value(f64::MAX), None);
    }
}
