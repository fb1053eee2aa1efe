//! Text inside HTML: the one escaping every page and email part uses (element content and
//! attribute values alike), so values from customers, merchants or packs never become markup.

/// Escapes the five characters with a meaning in HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_characters_become_entities_and_the_rest_stays() {
        assert_eq!(
            escape(r#"<b>"O'Neil" & Co</b> ООО «Байскилз»"#),
            "&lt;b&gt;&quot;O&#39;Neil&quot; &amp; Co&lt;/b&gt; ООО «Байскилз»"
        );
    }
}
