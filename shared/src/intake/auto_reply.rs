//! The automatic answer to an emailed application: in the customer's language, asking for
//! exactly what is missing, and warning them never to email a card number when they did.
//! Also decides who may be answered at all: never a machine (no mail loops).

use super::InboundEmail;
use super::language::Language;
use super::missing::MissingItem;
use super::thread::RequestTag;

/// Whether the sender of `email` may get an automatic answer: a person wrote it, it has a
/// sender address, and that address is not a no-reply or system mailbox. The per-sender rate
/// limit ([`super::ReplyRateLimit`]) applies on top.
pub fn answerable(email: &InboundEmail) -> bool {
    const SYSTEM_MAILBOXES: [&str; 7] = [
        "mailer-daemon",
        "postmaster",
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
    ];
    let Some(address) = email.from_address.as_deref() else {
        return false;
    };
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    email.kind.from_a_person()
        && !local.is_empty()
        && !domain.is_empty()
        && !SYSTEM_MAILBOXES.contains(&local)
}

/// The answer's subject and plain text. `tag` is the request's tag, put in the subject so the
/// customer's reply finds the request. With nothing missing it acknowledges the application.
/// `understood`, when the email could not be read with certainty, is the paragraph restating
/// what we understood (see [`super::understood`]), put after the greeting.
pub fn auto_reply(
    email: &InboundEmail,
    missing: &[MissingItem],
    understood: Option<&str>,
    merchant_name: &str,
    tag: &RequestTag,
) -> (String, String) {
    let words = Words::of(email.language);
    let title = if missing.is_empty() {
        words.subject_received
    } else {
        words.subject_needs_info
    };
    let subject = format!("[{tag}] {title}");

    let mut text = match email.extracted.customer_name.as_deref() {
        Some(name) => format!("{}, {name}!\n\n", words.greeting),
        None => format!("{}!\n\n", words.greeting),
    };
    if let Some(understood) = understood {
        text.push_str(understood.trim_end());
        text.push_str("\n\n");
    }
    if missing.is_empty() {
        text.push_str(&words.received.replace("{tag}", tag.as_str()));
        text.push_str("\n\n");
    } else {
        text.push_str(&words.we_got_your_email.replace("{merchant}", merchant_name));
        text.push_str("\n\n");
        for item in missing {
            text.push_str("- ");
            text.push_str(words.item(*item));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&words.keep_subject.replace("{tag}", tag.as_str()));
        text.push_str("\n\n");
    }
    if email.card_number_masked {
        text.push_str(words.card_warning);
        text.push_str("\n\n");
    }
    text.push_str(words.automatic);
    text.push('\n');
    text.push_str(&words.signature.replace("{merchant}", merchant_name));
    text.push('\n');
    (subject, text)
}

/// The sentences of the answer in one language.
struct Words {
    subject_needs_info: &'static str,
    subject_received: &'static str,
    greeting: &'static str,
    we_got_your_email: &'static str,
    payment_reference: &'static str,
    payment_choice: &'static str,
    reason: &'static str,
    customer_name: &'static str,
    keep_subject: &'static str,
    received: &'static str,
    card_warning: &'static str,
    automatic: &'static str,
    signature: &'static str,
}

impl Words {
    fn item(&self, item: MissingItem) -> &'static str {
        match item {
            MissingItem::PaymentReference => self.payment_reference,
            MissingItem::PaymentChoice => self.payment_choice,
            MissingItem::Reason => self.reason,
            MissingItem::CustomerName => self.customer_name,
        }
    }

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
    subject_needs_info: "Заявка на возврат: нужны сведения",
    subject_received: "Заявка на возврат получена",
    greeting: "Здравствуйте",
    we_got_your_email: "Мы получили ваше письмо о возврате денег за покупку в {merchant}. Чтобы рассмотреть заявку, пришлите, пожалуйста, ответом на это письмо:",
    payment_reference: "номер заказа или номер транзакции из чека об оплате;",
    payment_choice: "какой из ваших платежей вы имеете в виду: номер заказа или транзакции, дату и сумму платежа;",
    reason: "почему вы просите вернуть деньги (например, отказ от заказа, товар или услуга не получены, ошибочное списание);",
    customer_name: "ваши фамилию и имя (как у плательщика);",
    keep_subject: "Не меняйте тему письма: номер заявки {tag} в ней связывает ваш ответ с заявкой.",
    received: "Мы получили вашу заявку {tag} и начали её рассматривать. О решении сообщим письмом.",
    card_warning: "В вашем письме был номер банковской карты. Мы его скрыли и не сохранили. Никогда не отправляйте номер карты по почте: для возврата он не нужен, деньги вернутся на карту, с которой вы платили.",
    automatic: "Это письмо отправлено автоматически.",
    signature: "Служба возвратов {merchant}",
};

static KK: Words = Words {
    subject_needs_info: "Ақшаны қайтару өтініші: мәліметтер қажет",
    subject_received: "Ақшаны қайтару өтініші қабылданды",
    greeting: "Сәлеметсіз бе",
    we_got_your_email: "{merchant} сатып алуы үшін ақшаны қайтару туралы хатыңызды алдық. Өтінішті қарау үшін осы хатқа жауап ретінде мыналарды жіберіңіз:",
    payment_reference: "тапсырыс нөмірі немесе төлем түбіртегіндегі транзакция нөмірі;",
    payment_choice: "қай төлеміңіз туралы екенін: тапсырыс немесе транзакция нөмірін, төлем күні мен сомасын;",
    reason: "ақшаны неліктен қайтаруды сұрайтыныңызды (мысалы, тапсырыстан бас тарту, тауар не қызмет алынбады, қате есептен шығару);",
    customer_name: "тегіңіз бен атыңызды (төлеушідегідей);",
    keep_subject: "Хат тақырыбын өзгертпеңіз: ондағы {tag} өтінім нөмірі жауабыңызды өтініммен байланыстырады.",
    received: "{tag} өтінішіңізді алдық және қарауды бастадық. Шешім туралы хатпен хабарлаймыз.",
    card_warning: "Хатыңызда банк картасының нөмірі болды. Біз оны жасырдық және сақтамадық. Карта нөмірін ешқашан поштамен жібермеңіз: қайтару үшін ол қажет емес, ақша төлем жасалған картаға қайтарылады.",
    automatic: "Бұл хат автоматты түрде жіберілді.",
    signature: "{merchant} қайтару қызметі",
};

static LV: Words = Words {
    subject_needs_info: "Atmaksas pieteikums: nepieciešama informācija",
    subject_received: "Atmaksas pieteikums saņemts",
    greeting: "Labdien",
    we_got_your_email: "Esam saņēmuši jūsu vēstuli par naudas atmaksu par pirkumu {merchant}. Lai izskatītu pieteikumu, lūdzu, atbildot uz šo vēstuli, atsūtiet:",
    payment_reference: "pasūtījuma numuru vai darījuma numuru no maksājuma čeka;",
    payment_choice: "par kuru no jūsu maksājumiem ir runa: pasūtījuma vai darījuma numuru, maksājuma datumu un summu;",
    reason: "kāpēc vēlaties atgūt naudu (piemēram, atteikšanās no pasūtījuma, prece vai pakalpojums nav saņemts, kļūdaina norakstīšana);",
    customer_name: "savu vārdu un uzvārdu (kā maksātājam);",
    keep_subject: "Lūdzu, nemainiet vēstules tēmu: pieteikuma numurs {tag} tajā sasaista jūsu atbildi ar pieteikumu.",
    received: "Esam saņēmuši jūsu pieteikumu {tag} un sākuši to izskatīt. Par lēmumu paziņosim vēstulē.",
    card_warning: "Jūsu vēstulē bija bankas kartes numurs. Mēs to paslēpām un nesaglabājām. Nekad nesūtiet kartes numuru pa e-pastu: atmaksai tas nav vajadzīgs, nauda tiks atgriezta uz karti, ar kuru maksājāt.",
    automatic: "Šī vēstule nosūtīta automātiski.",
    signature: "{merchant} atmaksu dienests",
};

static EN: Words = Words {
    subject_needs_info: "Refund application: information needed",
    subject_received: "Refund application received",
    greeting: "Hello",
    we_got_your_email: "We have received your email about a refund for a purchase from {merchant}. To consider your application, please reply to this email with:",
    payment_reference: "the order number, or the transaction number from the payment receipt;",
    payment_choice: "which of your payments you mean: its order or transaction number, date and amount;",
    reason: "why you are asking for your money back (for example, you cancel the order, the goods or service never arrived, you were charged by mistake);",
    customer_name: "your full name (as the payer);",
    keep_subject: "Please keep the subject line: the application number {tag} in it links your reply to your application.",
    received: "We have received your application {tag} and started considering it. We will email you the decision.",
    card_warning: "Your email contained a bank card number. We have hidden it and did not store it. Never send your card number by email: a refund does not need it, the money goes back to the card you paid with.",
    automatic: "This email was sent automatically.",
    signature: "{merchant} refunds team",
};
