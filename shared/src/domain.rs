//! Checked domain types: untrusted input is parsed into these once, at the boundary, and the
//! rest of the code relies on their invariants (Zero To Production's `Email::parse` pattern).

use crate::error::FieldError;
use serde::{Deserialize, Serialize};

/// Whether `s` can be an id: every id is a ULID (as `ulid` reads it), so anything else names
/// nothing (ids in paths: `http::Id`; ids in bodies and queries are checked with this).
pub fn is_ulid(s: &str) -> bool {
    s.parse::<ulid::Ulid>().is_ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

/// A username: 3–30 characters of `a-z 0-9 _ . -`, starting with a letter or digit.
/// Stored lower-case, so uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 30;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_ascii_lowercase();
        let len = s.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&len) {
            return Err(format!("must be {} to {} characters", Self::MIN, Self::MAX));
        }
        if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c)) {
            return Err("may contain only letters, digits, '_', '.' and '-'".into());
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("must start with a letter or digit".into());
        }
        Ok(Username(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, checked for shape (one `@`, a dotted domain, no spaces), at most 254
/// characters, stored in Unicode NFKC form and lower-case (so `ａlice@Example.com`, with a
/// full-width `ａ`, is `alice@example.com`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, String> {
        use unicode_normalization::UnicodeNormalization;
        let s = raw.trim().nfkc().collect::<String>().to_lowercase();
        if s.is_empty() || s.len() > Self::MAX {
            return Err(format!("must be 1 to {} characters", Self::MAX));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("must be an e-mail address like name@example.com".into());
        };
        let domain_ok = domain.len() >= 3
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        if !(domain_ok && local_ok) {
            return Err("must be an e-mail address like name@example.com".into());
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the address looks like, for uniqueness: its Unicode confusable skeleton (UTS #39),
    /// under which `аlice@example.com` (with a Cyrillic `а`) is `alice@example.com`.
    pub fn skeleton(&self) -> String {
        skeleton(&self.0)
    }
}

/// The UTS #39 confusable skeleton of an already-normalized address (see [`Email::skeleton`]).
pub fn skeleton(email: &str) -> String {
    unicode_security::confusable_detection::skeleton(email).collect()
}

/// A phone number in E.164 form: `+` then 8 to 15 digits (spaces, dashes and brackets accepted
/// on input and removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let compact: String = raw.chars().filter(|c| !" -().".contains(*c)).collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) || digits.starts_with('0') {
            return Err("must be an international number like +14155550123".into());
        }
        Ok(Phone(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the policy (OWASP ASVS 2.1): 10 to 128 characters, not all one
/// character, and not the username or e-mail. It is never stored or logged; only its hash is.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    pub const MIN: usize = 10;
    pub const MAX: usize = 128;

    pub fn parse(raw: &str, username: Option<&str>, email: Option<&str>) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&len) {
            return Err(format!("must be {} to {} characters", Self::MIN, Self::MAX));
        }
        let mut chars = raw.chars();
        let first = chars.next();
        if chars.all(|c| Some(c) == first) {
            return Err("must not repeat a single character".into());
        }
        let lower = raw.to_lowercase();
        if username.is_some_and(|u| lower == u.to_lowercase()) || email.is_some_and(|e| lower == e.to_lowercase()) {
            return Err("must differ from your username and e-mail".into());
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// An IANA time-zone name known to the tz database (e.g. `Europe/Berlin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    /// What every name of the tz database looks like (`Europe/Berlin`, `America/Argentina/Salta`,
    /// `Etc/GMT+5`, `EST5EDT`): the OpenAPI document states it, `GET /time-zones` lists the names.
    pub const PATTERN: &'static str = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*){0,2}$";
    /// The longest name the API takes (the database's longest is 32 characters).
    pub const MAX_LEN: usize = 64;
    /// The version of the tz database the names come from (e.g. `2025b`).
    pub const DATABASE_VERSION: &'static str = chrono_tz::IANA_TZDB_VERSION;

    /// Every name the API accepts, sorted: the tz database's zones and links.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        names.sort_unstable();
        names
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.parse::<chrono_tz::Tz>()
            .map(TimeZone)
            .map_err(|_| "must be an IANA time zone name like Europe/Berlin (GET /time-zones lists them)".into())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeZone::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Collects field errors while a request is checked, so one response names every bad field.
#[derive(Default)]
pub struct Checker(Vec<FieldError>);

impl Checker {
    /// Records the error of `result` under `field`, returning the value if it parsed.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.0.push(FieldError::new(field, message));
                None
            }
        }
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Checks an optional free-text field's length (in characters).
    pub fn text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if value.is_some_and(|v| v.chars().count() > max) {
            self.fail(field, format!("must be at most {max} characters"));
        }
    }

    /// `Ok` when nothing failed; otherwise the validation error naming every field.
    pub fn finish(self) -> Result<(), crate::error::ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::error::ApiError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" Alice_01 ").unwrap().as_str(), "alice_01");
        for bad in ["ab", "a b c", "_alice", "alice!", &"x".repeat(31), "ålice"] {
            assert!(Username::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse("Ann.Lee+x@Example.COM").unwrap().as_str(), "ann.lee+x@example.com");
        for bad in
            ["", "ann", "ann@", "@x.com", "ann@x", "ann@@x.com", "a b@x.com", "ann@x..com", ".a@x.com", "a@-x.com"]
        {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(Email::parse(&format!("{}@x.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn phones() {
        assert_eq!(Phone::parse("+1 (415) 555-0123").unwrap().as_str(), "+14155550123");
        for bad in ["4155550123", "+1", "+0123456789", "+1415555012x", "+1234567890123456"] {
            assert!(Phone::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("correct horse battery", None, None).is_ok());
        assert!(Password::parse("short", None, None).is_err());
        assert!(Password::parse(&"a".repeat(12), None, None).is_err());
        assert!(Password::parse(&"ab".repeat(65), None, None).is_err());
        assert!(Password::parse("aliceAlice1", Some("alicealice1"), None).is_err());
        assert!(!format!("{:?}", Password::parse("correct horse battery", None, None).unwrap()).contains("horse"));
    }

    #[test]
    fn time_zones() {
        assert_eq!(TimeZone::parse("Europe/Berlin").unwrap().0, chrono_tz::Europe::Berlin);
        assert!(TimeZone::parse("Mars/Olympus").is_err());
        assert!(TimeZone::parse("").is_err());
    }

    #[test]
    fn checker_collects_every_field() {
        let mut c = Checker::default();
        assert!(c.check("username", Username::parse("x")).is_none());
        assert!(c.check("email", Email::parse("nope")).is_none());
        assert!(c.check("phone", Phone::parse("+14155550123")).is_some());
        match c.finish() {
            Err(crate::error::ApiError::Validation(errors)) => {
                assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["username", "email"]);
            }
            other => panic!("expected validation error, got {other:?}"),
        }
    }
}
