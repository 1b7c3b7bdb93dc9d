//! Splitting one CSV line into fields. The RetailRocket files have no quoting; a field wrapped in double
//! quotes is unwrapped, and a quoted comma is respected.
use crate::clean::rules::Rule;

/// Splits `line` into exactly `N` fields; the last field takes the rest of the line when `rest_in_last`.
/// Errors name the rule (bad UTF-8 or wrong column count) with an explanation.
pub fn split<const N: usize>(
    line: &[u8],
    rest_in_last: bool,
) -> Result<[&[u8]; N], (Rule, String)> {
    if !line.is_ascii() && std::str::from_utf8(line).is_err() {
        return Err((Rule::BadUtf8, "the line is not valid UTF-8".into()));
    }
    let mut out: [&[u8]; N] = [&[]; N];
    let mut count = 0;
    let mut start = 0;
    let mut in_quotes = false;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                if count + 1 == N && rest_in_last {
                    break;
                }
                if count < N {
                    out[count] = unquote(&line[start..i]);
                }
                count += 1;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if count < N {
        out[count] = unquote(&line[start..]);
    }
    count += 1;
    if count != N {
        return Err((
            Rule::WrongColumnCount,
            format!("{count} fields, expected {N}"),
        ));
    }
    Ok(out)
}

/// Splits `line` into all its fields (quotes as in [`split`]) and checks there are `expected` of them.
pub fn split_all(line: &[u8], expected: usize) -> Result<Vec<&[u8]>, (Rule, String)> {
    if !line.is_ascii() && std::str::from_utf8(line).is_err() {
        return Err((Rule::BadUtf8, "the line is not valid UTF-8".into()));
    }
    let mut out = Vec::with_capacity(expected);
    let mut start = 0;
    let mut in_quotes = false;
    for (i, &b) in line.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                out.push(unquote(&line[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(unquote(&line[start..]));
    if out.len() != expected {
        return Err((
            Rule::WrongColumnCount,
            format!("{} fields, expected {expected}", out.len()),
        ));
    }
    Ok(out)
}

fn unquote(field: &[u8]) -> &[u8] {
    if field.len() >= 2 && field[0] == b'"' && field[field.len() - 1] == b'"' {
        &field[1..field.len() - 1]
    } else {
        field
    }
}

/// `None` for an empty field (CSV null).
pub fn opt(field: &[u8]) -> Option<&[u8]> {
    (!field.is_empty()).then_some(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        assert_eq!(
            split::<3>(b"1,2,3", false).unwrap(),
            [&b"1"[..], b"2", b"3"]
        );
        assert_eq!(split::<3>(b"1,,", false).unwrap(), [&b"1"[..], b"", b""]);
        assert_eq!(
            split::<3>(b"1,2", false).unwrap_err().0,
            Rule::WrongColumnCount
        );
        assert_eq!(
            split::<3>(b"1,2,3,4", false).unwrap_err().0,
            Rule::WrongColumnCount
        );
        assert_eq!(
            split::<3>(b"1,2,3,4", true).unwrap(),
            [&b"1"[..], b"2", b"3,4"]
        );
        assert_eq!(
            split::<2>(b"\"a,b\",c", false).unwrap(),
            [&b"a,b"[..], b"c"]
        );
        assert_eq!(split::<1>(b"\xff", false).unwrap_err().0, Rule::BadUtf8);
        assert_eq!(split::<1>(b"", false).unwrap(), [&b""[..]]);
    }

    #[test]
    fn splits_all() {
        assert_eq!(
            split_all(b"1,\"a,b\",", 3).unwrap(),
            vec![&b"1"[..], b"a,b", b""]
        );
        assert_eq!(
            split_all(b"2,2024-03-01 10:02", 6).unwrap_err(),
            (Rule::WrongColumnCount, "2 fields, expected 6".to_string())
        );
        assert_eq!(split_all(b"a,\xff", 2).unwrap_err().0, Rule::BadUtf8);
    }
}
