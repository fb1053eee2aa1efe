//! The shape of an email body (paragraphs, lists, label-value lines, a quotation) and its
//! two renderings: plain text and HTML. Templates build one [`Letter`]; both parts come from
//! it, so they always say the same thing. Every piece of text is escaped in the HTML part:
//! templates never write markup, and values from customers or merchants cannot inject any.

use super::event::Language;
use crate::html::escape;

/// One block of an email body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    Paragraph(String),
    /// A bulleted list.
    List(Vec<String>),
    /// `label: value` lines (amounts, dates), the label emphasised in HTML.
    Facts(Vec<(String, String)>),
    /// A quoted text (a policy clause).
    Quote(String),
    /// Small print after the body (the request number and how to reply).
    Note(String),
    /// The closing and the merchant's signature, line by line.
    Signature(Vec<String>),
}

/// A complete email before rendering: subject and blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Letter {
    pub subject: String,
    pub blocks: Vec<Block>,
}

impl Letter {
    /// The plain-text part: blocks separated by blank lines, `- ` bullets, indented quotes.
    pub fn text(&self) -> String {
        let mut parts = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            parts.push(match block {
                Block::Paragraph(text) | Block::Note(text) => text.clone(),
                Block::List(items) => items
                    .iter()
                    .map(|item| format!("- {item}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Block::Facts(facts) => facts
                    .iter()
                    .map(|(label, value)| format!("{label}: {value}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Block::Quote(text) => text
                    .lines()
                    .map(|line| format!("    {line}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Block::Signature(lines) => lines.join("\n"),
            });
        }
        let mut text = parts.join("\n\n");
        text.push('\n');
        text
    }

    /// The HTML part: a self-contained document with inline styles (mail clients drop
    /// `<style>` blocks and external sheets).
    pub fn html(&self, language: Language) -> String {
        let mut body = String::new();
        for block in &self.blocks {
            match block {
                Block::Paragraph(text) => {
                    body.push_str(&format!(
                        "<p style=\"margin:0 0 16px\">{}</p>\n",
                        lines(text)
                    ));
                }
                Block::List(items) => {
                    body.push_str("<ul style=\"margin:0 0 16px;padding-left:24px\">\n");
                    for item in items {
                        body.push_str(&format!(
                            "<li style=\"margin:0 0 6px\">{}</li>\n",
                            lines(item)
                        ));
                    }
                    body.push_str("</ul>\n");
                }
                Block::Facts(facts) => {
                    body.push_str("<p style=\"margin:0 0 16px\">");
                    let rows: Vec<String> = facts
                        .iter()
                        .map(|(label, value)| {
                            format!("<strong>{}:</strong> {}", escape(label), escape(value))
                        })
                        .collect();
                    body.push_str(&rows.join("<br>\n"));
                    body.push_str("</p>\n");
                }
                Block::Quote(text) => {
                    body.push_str(&format!(
                        "<blockquote style=\"margin:0 0 16px;padding:8px 16px;border-left:3px solid #cccccc;color:#444444\">{}</blockquote>\n",
                        lines(text)
                    ));
                }
                Block::Note(text) => {
                    body.push_str(&format!(
                        "<p style=\"margin:0 0 16px;font-size:13px;color:#666666\">{}</p>\n",
                        lines(text)
                    ));
                }
                Block::Signature(signature) => {
                    let signature: Vec<String> = signature.iter().map(|l| escape(l)).collect();
                    body.push_str(&format!(
                        "<p style=\"margin:0\">{}</p>\n",
                        signature.join("<br>\n")
                    ));
                }
            }
        }
        format!(
            "<!DOCTYPE html>\n\
             <html lang=\"{lang}\">\n\
             <head>\n\
             <meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n\
             </head>\n\
             <body style=\"margin:0;padding:24px;background:#f4f4f4\">\n\
             <div style=\"max-width:600px;margin:0 auto;padding:24px;background:#ffffff;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#222222\">\n\
             {body}</div>\n\
             </body>\n\
             </html>\n",
            lang = language.code(),
            title = escape(&self.subject),
        )
    }
}

/// Escaped text with its line breaks kept.
fn lines(text: &str) -> String {
    text.lines().map(escape).collect::<Vec<_>>().join("<br>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_every_text_and_keeps_line_breaks() {
        let letter = Letter {
            subject: "A & B".into(),
            blocks: vec![
                Block::Paragraph("<script>alert('x')</script>".into()),
                Block::List(vec!["a \"b\"".into()]),
                Block::Facts(vec![("<i>".into(), "1 & 2".into())]),
                Block::Signature(vec!["Shop <b>".into(), "line two".into()]),
            ],
        };
        let html = letter.html(Language::En);
        assert!(html.contains("<title>A &amp; B</title>"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("<li style=\"margin:0 0 6px\">a &quot;b&quot;</li>"));
        assert!(html.contains("<strong>&lt;i&gt;:</strong> 1 &amp; 2"));
        assert!(html.contains("Shop &lt;b&gt;<br>\nline two"));
        assert!(!html.contains("<script>"));
        assert_eq!(
            letter.text(),
            "<script>alert('x')</script>\n\n- a \"b\"\n\n<i>: 1 & 2\n\nShop <b>\nline two\n"
        );
    }
}
