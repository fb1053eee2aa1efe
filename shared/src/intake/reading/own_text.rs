//! The customer's own words in an email: what they typed above everything that is not
//! theirs. Left out:
//! - `>`-quoted lines;
//! - an "On … wrote:" / "… написал(а):" / "… rakstīja:" / "… жазды:" attribution and all
//!   after it (the quoted reply);
//! - a forwarded-message or original-message banner, an Outlook header block (`From:` then
//!   `Sent:`/`Date:`) and all after it (someone else's message, such as a shop's receipt);
//! - a signature: a `-- ` line, a closing line ("С уважением", "Ar cieņu", "Best regards",
//!   "Құрметпен", a short "Thanks"/"Спасибо"), "Sent from my iPhone" lines, and all after;
//! - footers: a line offering to unsubscribe and all after.
//!
//! The subject counts as the customer's words unless it is a reply's or a forward's
//! (`Re:`, `Fwd:`, `Ответ:` …): then it is someone else's.

/// An email's text by whose words it is.
#[derive(Debug, Default)]
pub(super) struct Parts {
    /// The customer's own text, the subject first when it is theirs.
    pub own: String,
    /// The first forwarded message's own words (its quotes and signature left out): the
    /// words of whoever wrote it, which may be the customer's forwarded by someone else.
    pub forwarded: String,
    /// Everything left out.
    pub rest: String,
}

/// Splits an email's text (see the module comment).
pub(super) fn split(subject: &str, body: &str) -> Parts {
    let mut own = String::new();
    let mut rest = String::new();
    let mut forward_at = None;
    if subject_is_theirs(subject) && !subject.trim().is_empty() {
        own.push_str(subject.trim());
        own.push_str("\n\n");
    }
    let lines: Vec<&str> = body.lines().collect();
    let mut stopped = false;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if !stopped && ends_own_text(trimmed, lines.get(i + 1..).unwrap_or(&[])) {
            stopped = true;
        }
        if forward_at.is_none() && is_forward_banner(trimmed) {
            forward_at = Some(i + 1);
        }
        if stopped || trimmed.starts_with('>') {
            rest.push_str(line);
            rest.push('\n');
        } else {
            own.push_str(line);
            own.push('\n');
        }
    }
    let forwarded = forward_at
        .map(|at| split("", &lines[at..].join("\n")).own)
        .unwrap_or_default();
    Parts {
        own,
        forwarded,
        rest,
    }
}

fn is_forward_banner(line: &str) -> bool {
    let lower = line.to_lowercase();
    let bare = lower.trim_matches(|c: char| c == '-' || c == ' ' || c == '=' || c == '_');
    [
        "forwarded message",
        "begin forwarded message",
        "пересылаемое сообщение",
        "пересланное сообщение",
        "начало пересылаемого сообщения",
        "қайта жіберілген хат",
        "pārsūtīta ziņa",
        "pārsūtītā ziņa",
    ]
    .iter()
    .any(|b| bare.starts_with(b))
}

fn subject_is_theirs(subject: &str) -> bool {
    let lower = subject.trim().to_lowercase();
    const PREFIXES: [&str; 12] = [
        "re:",
        "re :",
        "fwd:",
        "fw:",
        "aw:",
        "wg:",
        "ответ:",
        "пересл:",
        "отв:",
        "pārs:",
        "ats:",
        "tr:",
    ];
    !PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// True when this line opens text that is not the customer's, or their signature.
fn ends_own_text(line: &str, following: &[&str]) -> bool {
    let lower = line.to_lowercase();
    let bare = lower.trim_matches(|c: char| c == '-' || c == ' ' || c == '=' || c == '_');
    if line == "--" || line == "-- " || line == "—" && following.len() < 6 {
        return true;
    }
    const BANNERS: [&str; 12] = [
        "forwarded message",
        "original message",
        "begin forwarded message",
        "пересылаемое сообщение",
        "исходное сообщение",
        "пересланное сообщение",
        "начало пересылаемого сообщения",
        "қайта жіберілген хат",
        "бастапқы хат",
        "pārsūtīta ziņa",
        "pārsūtītā ziņa",
        "sākotnējā ziņa",
    ];
    if BANNERS.iter().any(|b| bare.starts_with(b)) {
        return true;
    }
    const ATTRIBUTION_ENDS: [&str; 9] = [
        "wrote:",
        "написал:",
        "написала:",
        "написал(а):",
        "пишет:",
        "жазды:",
        "жазған:",
        "rakstīja:",
        "rakstija:",
    ];
    if ATTRIBUTION_ENDS.iter().any(|e| lower.ends_with(e))
        && (lower.contains('@') || lower.chars().any(|c| c.is_ascii_digit()))
    {
        return true;
    }
    // Outlook: "From: X" followed by "Sent:"/"Date:" within three lines.
    const FROM: [&str; 5] = ["from:", "от:", "no:", "кімнен:", "от кого:"];
    const SENT: [&str; 8] = [
        "sent:",
        "date:",
        "отправлено:",
        "дата:",
        "nosūtīts:",
        "datums:",
        "жіберілді:",
        "күні:",
    ];
    if FROM.iter().any(|f| lower.starts_with(f))
        && following.iter().take(3).any(|l| {
            let l = l.trim().to_lowercase();
            SENT.iter().any(|s| l.starts_with(s))
        })
    {
        return true;
    }
    const CLOSINGS: [&str; 17] = [
        "с уважением",
        "с наилучшими пожеланиями",
        "всего доброго",
        "құрметпен",
        "ізгі ниетпен",
        "ar cieņu",
        "ar cienu",
        "ar labiem vēlējumiem",
        "best regards",
        "kind regards",
        "warm regards",
        "regards",
        "best wishes",
        "sincerely",
        "yours sincerely",
        "yours faithfully",
        "cheers",
    ];
    let words = line.split_whitespace().count();
    if CLOSINGS.iter().any(|c| starts_with_word(&lower, c)) && words <= 6 {
        return true;
    }
    const SHORT_CLOSINGS: [&str; 8] = [
        "спасибо",
        "заранее спасибо",
        "рахмет",
        "paldies",
        "jau iepriekš paldies",
        "thanks",
        "thank you",
        "many thanks",
    ];
    if SHORT_CLOSINGS.iter().any(|c| starts_with_word(&lower, c))
        && words <= 4
        && following.iter().filter(|l| !l.trim().is_empty()).count() <= 3
    {
        return true;
    }
    const DEVICE: [&str; 6] = [
        "sent from my",
        "отправлено с",
        "отправлено из",
        "nosūtīts no",
        "get outlook for",
        "жіберілген",
    ];
    if DEVICE.iter().any(|d| lower.starts_with(d)) {
        return true;
    }
    const FOOTERS: [&str; 4] = [
        "unsubscribe",
        "отписаться",
        "atrakstīties",
        "жазылымнан бас",
    ];
    FOOTERS.iter().any(|f| lower.contains(f))
}

fn starts_with_word(lower: &str, prefix: &str) -> bool {
    lower.starts_with(prefix)
        && lower[prefix.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_forwards_and_signatures_are_left_out() {
        let body = "Не пришёл заказ.\n\nС уважением,\nИван\n\nOn Mon, 2 Mar 2026, shop <s@x.by> wrote:\n> возврат не положен";
        let Parts { own, rest, .. } = split("Заказ", body);
        assert!(own.contains("Не пришёл"));
        assert!(!own.contains("Иван"));
        assert!(rest.contains("возврат не положен"));

        let parts = split(
            "Fwd: Your receipt",
            "Please refund.\n---------- Forwarded message ----------\nFrom: shop\nRefunds within 14 days\n-- \nShop Ltd",
        );
        assert_eq!(parts.own.trim(), "Please refund.");
        assert_eq!(parts.forwarded.trim(), "From: shop\nRefunds within 14 days");

        let own = split("", "Nesaņēmu preci.\nAr cieņu,\nJānis\n");
        assert_eq!(own.own.trim(), "Nesaņēmu preci.");

        let own = split("", "Тауар келмеді.\nҚұрметпен, Айгүл\n");
        assert_eq!(own.own.trim(), "Тауар келмеді.");

        let own = split(
            "",
            "I never got it.\n\nFrom: Shop <s@shop.com>\nSent: Monday\nSubject: order\nnot delivered",
        );
        assert_eq!(own.own.trim(), "I never got it.");
    }

    #[test]
    fn reply_subjects_are_not_the_customers() {
        let own = split("Re: Ваша заявка на возврат", "Да.");
        assert_eq!(own.own.trim(), "Да.");
    }
}
