//! Nicknames: short, printable, unambiguous in `[nick] text` lines and `/who` lists.

/// Longest nickname, in bytes (all characters are ASCII).
pub const MAX_NICK: usize = 16;

/// Why a nickname was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NickError {
    #[error("a nickname cannot be empty: /nick NAME")]
    Empty,
    #[error("a nickname is at most {MAX_NICK} characters")]
    TooLong,
    #[error("a nickname starts with a letter")]
    BadStart,
    #[error("a nickname holds letters, digits, '-' and '_' only, not {0:?}")]
    BadChar(char),
    #[error("the nickname {0} is taken")]
    Taken(String),
}

/// Checks the form of a nickname (uniqueness is the room's business). ASCII only, so that
/// two nicknames that look alike are alike, and starting with a letter so that a nickname is
/// never mistaken for a number or an option.
pub fn validate(name: &str) -> Result<(), NickError> {
    let first = name.chars().next().ok_or(NickError::Empty)?;
    if name.len() > MAX_NICK {
        return Err(NickError::TooLong);
    }
    if !first.is_ascii_alphabetic() {
        return Err(NickError::BadStart);
    }
    match name.chars().find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        Some(c) => Err(NickError::BadChar(c)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nickname_rules() {
        assert_eq!(validate("alice"), Ok(()));
        assert_eq!(validate("Bob_2-x"), Ok(()));
        assert_eq!(validate(""), Err(NickError::Empty));
        assert_eq!(validate("a234567890123456"), Ok(()));
        assert_eq!(validate("a2345678901234567"), Err(NickError::TooLong));
        assert_eq!(validate("2pac"), Err(NickError::BadStart));
        assert_eq!(validate("al ice"), Err(NickError::BadChar(' ')));
        assert_eq!(validate("[x]"), Err(NickError::BadStart));
        assert_eq!(validate("zoë"), Err(NickError::BadChar('ë')));
    }
}
