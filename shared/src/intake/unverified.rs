//! The two letters about an email whose sender is not the payer (see [`super::sender_is`]):
//! the answer to that sender, which names nothing of what the email claimed (no merchant,
//! payment, amount, card or request tag), and the request to the payment's own customer
//! address to confirm the claim by replying.

use super::InboundEmail;
use super::language::Language;

/// What the answer to an unverified email can truthfully say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnverifiedAnswer {
    /// The payer was asked (now or before) to confirm by replying from their own address.
    AskedPayer,
    /// Nobody can be asked (the payment has no customer address, or the email named a
    /// request): it waits for support.
    Checking,
}

/// The answer's subject and plain text, in the email's language.
pub fn unverified_answer(email: &InboundEmail, answer: UnverifiedAnswer) -> (String, String) {
    let words = Words::of(email.language);
    let mut text = format!("{}!\n\n", words.greeting);
    text.push_str(match answer {
        UnverifiedAnswer::AskedPayer => words.asked_payer,
        UnverifiedAnswer::Checking => words.checking,
    });
    text.push_str("\n\n");
    if email.card_number_masked {
        text.push_str(words.card_warning);
        text.push_str("\n\n");
    }
    text.push_str(words.automatic);
    text.push('\n');
    text.push_str(words.team);
    text.push('\n');
    (words.answer_subject.to_owned(), text)
}

/// What the confirmation request says about the payment: written only to the address the
/// payment was registered with.
#[derive(Debug, Clone)]
pub struct ConfirmationRequest<'a> {
    /// The language to write in.
    pub language: Language,
    /// The merchant's name as the payer knows it (its id when no name is configured).
    pub merchant_name: &'a str,
    /// The amount paid, as the language writes it (`450,00 BYN`).
    pub amount: &'a str,
    /// The payment date, as the language writes it.
    pub paid_on: &'a str,
    /// The address the claim came from.
    pub sender: &'a str,
}

/// The confirmation request's subject and plain text.
pub fn confirmation_request(c: &ConfirmationRequest<'_>) -> (String, String) {
    let words = Words::of(c.language);
    let fill = |s: &str| {
        s.replace("{merchant}", c.merchant_name)
            .replace("{amount}", c.amount)
            .replace("{date}", c.paid_on)
            .replace("{sender}", c.sender)
    };
    let mut text = format!("{}!\n\n", words.greeting);
    for paragraph in [
        words.confirm_claim,
        words.confirm_how,
        words.confirm_ignore,
        words.never_card,
    ] {
        text.push_str(&fill(paragraph));
        text.push_str("\n\n");
    }
    text.push_str(words.automatic);
    text.push('\n');
    text.push_str(&fill(words.signature));
    text.push('\n');
    (words.confirm_subject.to_owned(), text)
}

struct Words {
    greeting: &'static str,
    answer_subject: &'static str,
    asked_payer: &'static str,
    checking: &'static str,
    card_warning: &'static str,
    confirm_subject: &'static str,
    confirm_claim: &'static str,
    confirm_how: &'static str,
    confirm_ignore: &'static str,
    never_card: &'static str,
    automatic: &'static str,
    team: &'static str,
    signature: &'static str,
}

impl Words {
    fn of(language: Language) -> &'static Words {
        match language {
            Language::Ru => &RU,
            Language::Kk => &KK,
            Language::Lv => &LV,
            Language::En => &EN,
        }
    }
}

static RU: Words = Words {
    greeting: "Здравствуйте",
    answer_subject: "Мы получили ваше письмо",
    asked_payer: "Мы получили ваше письмо. Ради безопасности мы выполняем действия по платежу только по просьбе плательщика, присланной с адреса электронной почты, с которым был сделан платёж. Поэтому мы попросили плательщика подтвердить ваше письмо; если он подтвердит, заявка будет открыта, и мы напишем ему.",
    checking: "Мы получили ваше письмо. Ради безопасности мы выполняем действия по платежу или заявке только по письмам с адреса электронной почты, с которым сделан платёж или подана заявка, поэтому ваше письмо ничего не изменило. Если платёж или заявка ваши, напишите нам, пожалуйста, с этого адреса; ваше письмо также посмотрит служба поддержки.",
    card_warning: "В вашем письме был номер банковской карты. Мы его скрыли и не сохранили. Никогда не отправляйте номер карты по почте: для возврата он не нужен.",
    confirm_subject: "Подтвердите, пожалуйста: просьба о возврате по вашему платежу",
    confirm_claim: "Мы получили просьбу вернуть деньги за ваш платёж в {merchant} на сумму {amount} от {date}. Она пришла с адреса {sender}, а не с адреса, с которым был сделан платёж, поэтому мы пока ничего не сделали.",
    confirm_how: "Если это вы или кто-то пишет по вашей просьбе, ответьте на это письмо с этого адреса (достаточно короткого «Подтверждаю»; можно добавить причину и документы). Ваш ответ откроет заявку на возврат, и о ней мы будем писать вам.",
    confirm_ignore: "Если вы ничего об этом не знаете, не отвечайте: с вашим платежом ничего не произойдёт.",
    never_card: "Никогда не отправляйте номер карты по почте: для возврата он не нужен.",
    automatic: "Это письмо отправлено автоматически.",
    team: "Служба возвратов",
    signature: "Служба возвратов {merchant}",
};

static KK: Words = Words {
    greeting: "Сәлеметсіз бе",
    answer_subject: "Хатыңызды алдық",
    asked_payer: "Хатыңызды алдық. Қауіпсіздік үшін біз төлем бойынша әрекетті тек төлем жасалған электрондық пошта мекенжайынан жазылған төлеушінің өтініші бойынша орындаймыз. Сондықтан төлеушіден хатыңызды растауды сұрадық; ол растаса, өтінім ашылады және біз оған жазамыз.",
    checking: "Хатыңызды алдық. Қауіпсіздік үшін біз төлем немесе өтінім бойынша әрекетті тек төлем жасалған не өтінім берілген электрондық пошта мекенжайынан келген хаттар бойынша орындаймыз, сондықтан хатыңыз ештеңені өзгертпеді. Егер төлем немесе өтінім сіздікі болса, бізге сол мекенжайдан жазыңыз; хатыңызды қолдау қызметі де қарайды.",
    card_warning: "Хатыңызда банк картасының нөмірі болды. Біз оны жасырдық және сақтамадық. Карта нөмірін ешқашан поштамен жібермеңіз: қайтару үшін ол қажет емес.",
    confirm_subject: "Растаңыз: төлеміңіз бойынша ақшаны қайтару сұрауы",
    confirm_claim: "{merchant} үшін {date} жасалған {amount} сомасындағы төлеміңіз бойынша ақшаны қайтару сұрауын алдық. Ол төлем жасалған мекенжайдан емес, {sender} мекенжайынан келді, сондықтан біз әзірге ештеңе істеген жоқпыз.",
    confirm_how: "Егер бұл сіз болсаңыз немесе біреу сіздің атыңыздан жазса, осы хатқа осы мекенжайдан жауап беріңіз (қысқа «Растаймын» жеткілікті; себебі мен құжаттарды қосуға болады). Жауабыңыз ақшаны қайтару өтінімін ашады, және біз сізге ол туралы жазамыз.",
    confirm_ignore: "Егер бұл туралы ештеңе білмесеңіз, жауап бермеңіз: төлеміңізге ештеңе болмайды.",
    never_card: "Карта нөмірін ешқашан поштамен жібермеңіз: қайтару үшін ол қажет емес.",
    automatic: "Бұл хат автоматты түрде жіберілді.",
    team: "Қайтару қызметі",
    signature: "{merchant} қайтару қызметі",
};

static LV: Words = Words {
    greeting: "Labdien",
    answer_subject: "Esam saņēmuši jūsu vēstuli",
    asked_payer: "Esam saņēmuši jūsu vēstuli. Drošības nolūkos mēs rīkojamies ar maksājumu tikai pēc maksātāja lūguma, kas nosūtīts no e-pasta adreses, ar kuru veikts maksājums. Tāpēc esam lūguši maksātāju apstiprināt jūsu vēstuli; ja viņš to apstiprinās, pieteikums tiks atvērts, un mēs viņam rakstīsim.",
    checking: "Esam saņēmuši jūsu vēstuli. Drošības nolūkos mēs rīkojamies ar maksājumu vai pieteikumu tikai pēc vēstulēm no e-pasta adreses, ar kuru veikts maksājums vai iesniegts pieteikums, tāpēc jūsu vēstule neko nav mainījusi. Ja maksājums vai pieteikums ir jūsu, lūdzu, rakstiet mums no šīs adreses; jūsu vēstuli apskatīs arī atbalsta dienests.",
    card_warning: "Jūsu vēstulē bija bankas kartes numurs. Mēs to paslēpām un nesaglabājām. Nekad nesūtiet kartes numuru pa e-pastu: atmaksai tas nav vajadzīgs.",
    confirm_subject: "Lūdzu, apstipriniet: atmaksas lūgums par jūsu maksājumu",
    confirm_claim: "Esam saņēmuši lūgumu atmaksāt jūsu {date} veikto maksājumu {merchant} par summu {amount}. Tas nosūtīts no adreses {sender}, nevis no adreses, ar kuru veikts maksājums, tāpēc mēs vēl neko neesam darījuši.",
    confirm_how: "Ja to nosūtījāt jūs vai kāds raksta jūsu vārdā, atbildiet uz šo vēstuli no šīs adreses (pietiek ar īsu „Apstiprinu”; varat pievienot iemeslu un dokumentus). Jūsu atbilde atvērs atmaksas pieteikumu, un par to mēs rakstīsim jums.",
    confirm_ignore: "Ja jūs par to neko nezināt, neatbildiet: ar jūsu maksājumu nekas nenotiks.",
    never_card: "Nekad nesūtiet kartes numuru pa e-pastu: atmaksai tas nav vajadzīgs.",
    automatic: "Šī vēstule nosūtīta automātiski.",
    team: "Atmaksu dienests",
    signature: "{merchant} atmaksu dienests",
};

static EN: Words = Words {
    greeting: "Hello",
    answer_subject: "We have received your message",
    asked_payer: "We have received your message. For your security we act on a payment only when its payer asks us from the email address the payment was made with. We have therefore asked the payer by email to confirm your message; if they confirm it, the application is opened and we will write to them.",
    checking: "We have received your message. For your security we act on a payment or an application only on messages from the email address the payment or the application was made with, so your message has changed nothing. If the payment or the application is yours, please write to us from that address; our support team will also look at your message.",
    card_warning: "Your email contained a bank card number. We have hidden it and did not store it. Never send your card number by email: a refund does not need it.",
    confirm_subject: "Please confirm: a refund request for your payment",
    confirm_claim: "We have received a request to refund your payment to {merchant} of {amount} made on {date}. It was sent from {sender}, not from the address the payment was made with, so we have done nothing yet.",
    confirm_how: "If you sent it, or someone writes on your behalf, reply to this email from this address (a short \"I confirm\" is enough; you may add the reason and documents). Your reply opens the refund application, and we will write to you about it.",
    confirm_ignore: "If you know nothing about it, do not reply: nothing will happen to your payment.",
    never_card: "Never send your card number by email: a refund does not need it.",
    automatic: "This email was sent automatically.",
    team: "Refunds team",
    signature: "{merchant} refunds team",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::parse;

    #[test]
    fn the_answer_names_nothing_the_email_claimed() {
        let email = parse(
            "From: x@evil.example\r\nSubject: refund TXN-884120077\r\n\r\n\
             Refund order 884120077 to card 4111 1111 1111 1111, RF-1A2B3C4D\r\n"
                .as_bytes(),
        )
        .unwrap();
        for kind in [UnverifiedAnswer::AskedPayer, UnverifiedAnswer::Checking] {
            let (subject, text) = unverified_answer(&email, kind);
            for leaked in ["884120077", "RF-", "1111", "4111"] {
                assert!(
                    !subject.contains(leaked) && !text.contains(leaked),
                    "{text}"
                );
            }
            assert!(text.contains("card number"), "the card warning: {text}");
        }
    }

    #[test]
    fn the_confirmation_names_the_payment_and_the_other_address_in_each_language() {
        for language in [Language::Ru, Language::Kk, Language::Lv, Language::En] {
            let (subject, text) = confirmation_request(&ConfirmationRequest {
                language,
                merchant_name: "Online Courses",
                amount: "450,00 BYN",
                paid_on: "2 March 2026",
                sender: "someone@else.example",
            });
            assert!(!subject.is_empty());
            for part in [
                "Online Courses",
                "450,00 BYN",
                "2 March 2026",
                "someone@else.example",
            ] {
                assert!(text.contains(part), "{language:?}: {text}");
            }
            assert!(!text.contains('{'), "{language:?}: {text}");
        }
    }
}
