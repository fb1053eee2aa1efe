use super::*;

fn reason(body: &str) -> (Option<Reason>, bool) {
    let r = read("", body);
    (r.reason, r.certain)
}

fn certain(body: &str, expected: Reason) {
    let r = read("", body);
    assert_eq!(r.reason, Some(expected), "{body}: {r:#?}");
    assert!(r.certain, "{body}: {r:#?}");
}

fn uncertain(body: &str) -> Reading {
    let r = read("", body);
    assert!(!r.certain, "{body}: {r:#?}");
    r
}

#[test]
fn not_delivered_in_four_languages() {
    certain(
        "Здравствуйте! Заказ так и не пришёл, верните деньги.",
        Reason::NotDelivered,
    );
    certain(
        "До сих пор жду посылку, оплатил месяц назад.",
        Reason::NotDelivered,
    );
    certain(
        "Тауар әлі келген жоқ. Ақшаны қайтарыңыз.",
        Reason::NotDelivered,
    );
    certain("Тапсырысты алмадым.", Reason::NotDelivered);
    certain(
        "Labdien, preci nesaņēmu, lūdzu atmaksu.",
        Reason::NotDelivered,
    );
    certain(
        "Sveiki, paka joprojām gaidu, tā neatnāca.",
        Reason::NotDelivered,
    );
    certain(
        "Hi, my order never showed up. Please refund.",
        Reason::NotDelivered,
    );
    certain(
        "The parcel didn't come and I'm still waiting.",
        Reason::NotDelivered,
    );
}

#[test]
fn latvian_without_diacritics_and_kazakh_on_a_russian_keyboard() {
    certain(
        "Labdien, preci nesanemu, ludzu atmaksu.",
        Reason::NotDelivered,
    );
    certain("Тауар али келген жок.", Reason::NotDelivered);
}

#[test]
fn did_not_suit_me_is_never_not_delivered() {
    let r = read(
        "",
        "Сәлеметсіз бе! Қосымша маған сәйкес келмеді, ақшамды қайтарыңыз.",
    );
    assert_eq!(r.reason, Some(Reason::Withdrawal), "{r:#?}");
    assert!(
        r.evidence
            .iter()
            .all(|e| e.supports != "reason:not_delivered"),
        "{r:#?}"
    );
}

#[test]
fn negation_and_double_negation() {
    let r = uncertain("I can't say I never received it, but I'd like a refund.");
    assert_ne!(r.reason, Some(Reason::NotDelivered));
    assert!(r.doubts.iter().any(|d| matches!(
        d,
        Doubt::Negated {
            reason: Reason::NotDelivered,
            ..
        }
    )));
    let r = uncertain("Не могу сказать, что не получил товар, но хочу вернуть деньги.");
    assert_ne!(r.reason, Some(Reason::NotDelivered));
    let r = uncertain("Nevaru teikt, ka nesaņēmu preci, bet gribu atmaksu.");
    assert_ne!(r.reason, Some(Reason::NotDelivered));
    let r = uncertain("Тауарды алмадым деп айта алмаймын, бірақ ақшаны қайтарыңыз.");
    assert_ne!(r.reason, Some(Reason::NotDelivered));
    // A negated other reason does not hide a clear one.
    certain(
        "Я не передумал, просто заказ не пришёл.",
        Reason::NotDelivered,
    );
}

#[test]
fn questions_are_not_applications() {
    let r = uncertain(
        "Could I get my money back if the course doesn't suit me? Not asking yet, just wondering.",
    );
    assert!(
        r.doubts
            .iter()
            .any(|d| matches!(d, Doubt::Question { .. } | Doubt::Hedged { .. }))
    );
    uncertain("Можно ли вернуть деньги, если я уже начал курс?");
    uncertain("Ақшаны қайтаруға бола ма?");
    uncertain("Vai es varu saņemt atmaksu, ja kurss nepatīk?");
    uncertain("Is it possible to get a refund?");
    // A request put as a question is a request.
    certain(
        "Заказ не пришёл. Можете вернуть деньги, пожалуйста?",
        Reason::NotDelivered,
    );
    certain(
        "My order never arrived. Can you refund me please?",
        Reason::NotDelivered,
    );
    // A complaint put as a question is a complaint.
    certain(
        "Почему я до сих пор не получил заказ?",
        Reason::NotDelivered,
    );
}

#[test]
fn conditions_are_not_applications() {
    uncertain("Если заказ не придёт до пятницы, я попрошу вернуть деньги.");
    uncertain("If it doesn't arrive by Friday I will want a refund.");
    uncertain("Ja pasūtījums neatnāks līdz piektdienai, gribēšu atmaksu.");
    uncertain("Егер тауар келмесе, ақшаны қайтарыңыз.");
    // "If possible" is politeness.
    certain(
        "The order never arrived, please refund if possible.",
        Reason::NotDelivered,
    );
    certain(
        "Заказ не пришёл, если можно, верните деньги.",
        Reason::NotDelivered,
    );
}

#[test]
fn only_the_customers_own_words() {
    let body = "Please refund, I changed my mind.\n\nOn Mon, 2 Mar 2026, Shop <s@shop.com> wrote:\n> Your order was not delivered yet.";
    certain(body, Reason::Withdrawal);
    let body = "See below.\n---------- Forwarded message ----------\nFrom: shop@x.lv\nJūsu pasūtījums nav piegādāts. Atmaksa 14 dienu laikā.";
    let r = uncertain(body);
    assert!(
        r.evidence.is_empty(),
        "nothing of the forward is evidence: {r:#?}"
    );
    assert!(
        r.doubts
            .iter()
            .any(|d| matches!(d, Doubt::OnlyInQuotedText { .. }))
    );
    let body = "Прошу отменить заказ.\n-- \nИван\nP.S. форс-мажор";
    certain(body, Reason::Withdrawal);
    let body = "Refund please, I don't need it.\nBest regards,\nJohn\nSent from my iPhone";
    certain(body, Reason::Withdrawal);
}

#[test]
fn russian_in_latin_letters() {
    let r = read(
        "",
        "Zdravstvuyte, zakaz tak i ne prishel, hochu vernut dengi.",
    );
    assert!(r.translit);
    assert_eq!(r.reason, Some(Reason::NotDelivered), "{r:#?}");
    assert!(r.certain);
}

#[test]
fn force_majeure_in_plain_words() {
    certain(
        "Не смогу пройти курс: попал в больницу.",
        Reason::ForceMajeure,
    );
    certain(
        "У нас умер отец, прошу вернуть деньги за поездку.",
        Reason::ForceMajeure,
    );
    certain(
        "Әкем қайтыс болды, сапарға бара алмаймыз.",
        Reason::ForceMajeure,
    );
    certain(
        "Аурухана жатырмын, ақшаны қайтарыңыз.",
        Reason::ForceMajeure,
    );
    certain("Esmu slimnīcā, lūdzu atmaksu.", Reason::ForceMajeure);
    certain("Mūsu māju applūdināja plūdi.", Reason::ForceMajeure);
    certain(
        "I was in hospital and could not attend.",
        Reason::ForceMajeure,
    );
    certain("Our house was damaged by a flood.", Reason::ForceMajeure);
}

#[test]
fn double_charges_written_with_digits() {
    certain(
        "С карты списали 2 раза за один заказ.",
        Reason::ErroneousCharge,
    );
    certain("Оплата прошла 2х, верните лишнее.", Reason::ErroneousCharge);
    certain(
        "Ақша 2 рет алынды, төлем бір рет болуы керек.",
        Reason::ErroneousCharge,
    );
    certain(
        "Nauda tika noņemta divreiz par vienu maksājumu.",
        Reason::ErroneousCharge,
    );
    certain(
        "I was charged twice for the same order.",
        Reason::ErroneousCharge,
    );
    certain(
        "Payment went through 2x on my card.",
        Reason::ErroneousCharge,
    );
    // Writing twice is no double charge.
    let (r, _) = reason("Я писал вам 2 раза, ответа нет.");
    assert_ne!(r, Some(Reason::ErroneousCharge));
}

#[test]
fn waiting_for_a_reply_or_the_refund_is_not_not_delivered() {
    let (r, _) = reason("I never received a reply to my refund request.");
    assert_ne!(r, Some(Reason::NotDelivered));
    let (r, _) = reason("Жауап алмадым.");
    assert_ne!(r, Some(Reason::NotDelivered));
}

#[test]
fn competing_reasons_are_not_certain() {
    let r = uncertain("Заказ не пришёл, а ещё деньги списали дважды.");
    assert!(
        r.doubts
            .iter()
            .any(|d| matches!(d, Doubt::CompetingReasons { .. }))
    );
}

#[test]
fn progress_ranges_and_words() {
    let r = read(
        "",
        "Курс пройден на 80-90%, но он мне не подошёл, прошу вернуть деньги.",
    );
    assert_eq!(r.facts.progress_percent, Some(90));
    assert!(
        r.evidence
            .iter()
            .any(|e| e.supports == "fact:progress_percent" && e.phrase.contains("80-90"))
    );
    let r = read("", "Я прошёл половину курса.");
    assert_eq!(r.facts.progress_percent, Some(50));
    let r = read("", "I have completed about half of the course.");
    assert_eq!(r.facts.progress_percent, Some(50));
    let r = read("", "Kursu esmu izgājis 30%.");
    assert_eq!(r.facts.progress_percent, Some(30));
    let r = read("", "Курстың 40 пайызын өттім.");
    assert_eq!(r.facts.progress_percent, Some(40));
    let r = read("", "I haven't started the course, please refund.");
    assert_eq!(r.facts.progress_percent, Some(0));
    // A percentage that is not progress.
    let r = read("", "Скидка 20% не применилась.");
    assert_eq!(r.facts.progress_percent, None);
}

#[test]
fn dates_and_what_they_belong_to() {
    let nov20 = NaiveDate::from_ymd_opt(2026, 11, 20);
    let r = read("", "Доступ к курсу у меня с 20.11.2026.");
    assert_eq!(r.facts.access_started_at, nov20);
    let r = read(
        "",
        "I received the parcel on 2026-11-20 but it was the wrong size.",
    );
    assert_eq!(r.facts.goods_received_at, nov20);
    assert_eq!(r.facts.goods_received, Some(true));
    let r = read_on(
        "",
        "Начал курс с 20 ноября.",
        NaiveDate::from_ymd_opt(2026, 12, 3),
    );
    assert_eq!(r.facts.access_started_at, nov20);
    let r = read("", "Preci saņēmu 20. novembrī 2026.");
    assert_eq!(r.facts.goods_received_at, nov20);
}

#[test]
fn received_and_order_accepted() {
    let r = read("", "Товар не получил.");
    assert_eq!(r.facts.goods_received, Some(false));
    let r = read("", "Получил товар, но он не подошёл.");
    assert_eq!(r.facts.goods_received, Some(true));
    let r = read("", "Заказ ещё не принят, хочу отменить.");
    assert_eq!(r.facts.order_accepted, Some(false));
    let r = read("", "Pasūtījums vēl nav apstiprināts, gribu atcelt.");
    assert_eq!(r.facts.order_accepted, Some(false));
}

#[test]
fn no_reason_is_said_so() {
    let r = uncertain("Здравствуйте, как дела?");
    assert_eq!(r.reason, None);
    assert_eq!(r.doubts, vec![Doubt::NoReason]);
}

#[test]
fn a_plain_request_is_a_withdrawal_to_confirm() {
    for body in [
        "Lūdzu atmaksāt naudu par pasūtījumu.",
        "Ақшамды қайтарыңыз.",
        "Прошу вернуть деньги.",
        "Please refund order 123.",
    ] {
        let r = uncertain(body);
        assert_eq!(r.reason, Some(Reason::Withdrawal), "{body}");
        assert_eq!(r.doubts, vec![Doubt::OnlyARequest], "{body}");
    }
    // Asking to cancel is withdrawing.
    certain("Please cancel my order and refund me.", Reason::Withdrawal);
    certain("Тапсырыстан бас тартамын.", Reason::Withdrawal);
}

#[test]
fn cancelling_does_not_compete_with_a_stated_reason() {
    certain(
        "My father passed away, please cancel the booking and refund.",
        Reason::ForceMajeure,
    );
    certain(
        "Заказ не пришёл, отказываюсь от него.",
        Reason::NotDelivered,
    );
    certain(
        "Mamma ir slimnīcā, lūdzu atcelt pasūtījumu.",
        Reason::ForceMajeure,
    );
}

#[test]
fn kazakh_in_latin_letters_is_read() {
    let r = read(
        "",
        "Sálemetsiz be! Tapsyrys áli qabyldanǵan joq. Bas tartamyn, aqshany qaitaryńyzshy.",
    );
    assert!(r.translit);
    assert_eq!(r.reason, Some(Reason::Withdrawal), "{r:#?}");
    assert_eq!(r.facts.order_accepted, Some(false), "{r:#?}");
}

#[test]
fn a_dash_ends_a_clause_and_a_phrase_keeps_its_own_negation() {
    certain(
        "The app was never delivered - refund please.",
        Reason::NotDelivered,
    );
    certain(
        "Can't continue - illness. Please refund.",
        Reason::ForceMajeure,
    );
}

#[test]
fn a_forwarded_application_is_read_but_never_certain() {
    let body = "Пересылаю обращение клиента.\n\n---------- Forwarded message ----------\nFrom: Наталья <n@mail.ru>\nSubject: Возврат\n\nЗдравствуйте! Прошу вернуть деньги.\n\nС уважением,\nНаталья";
    let r = uncertain(body);
    assert_eq!(r.reason, Some(Reason::Withdrawal));
    assert!(
        r.doubts
            .iter()
            .any(|d| matches!(d, Doubt::OnlyInQuotedText { .. }))
    );
}

#[test]
fn kazakh_could_not_is_not_did_not_receive() {
    let r = read("", "Сайтты өзіміз жинай алмадық, қызметтен бас тартамын.");
    assert_ne!(r.reason, Some(Reason::NotDelivered), "{r:#?}");
    certain("Тауарды алмадым.", Reason::NotDelivered);
}

#[test]
fn not_yet_delivered_and_cancelling_compete() {
    let r = uncertain("The parcel hasn't arrived yet, please cancel the order.");
    assert!(
        r.doubts
            .iter()
            .any(|d| matches!(d, Doubt::CompetingReasons { .. })),
        "{r:#?}"
    );
    certain(
        "The parcel hasn't arrived yet, refund please.",
        Reason::NotDelivered,
    );
}

#[test]
fn the_refund_is_no_longer_needed() {
    let r = uncertain("Paka tomēr atnāca. Atmaksa vairs nav vajadzīga.");
    assert!(
        r.doubts.iter().any(|d| matches!(d, Doubt::Hedged { .. })),
        "{r:#?}"
    );
}

#[test]
fn praise_next_to_a_complaint_may_be_sarcasm() {
    let r = uncertain("Керемет қосымша — бір рет те ашылмады. Ақшаны қайтарыңыз.");
    assert!(
        r.doubts.iter().any(|d| matches!(d, Doubt::Sarcasm { .. })),
        "{r:#?}"
    );
    let r = uncertain("Great job, the order never arrived. Refund please.");
    assert!(
        r.doubts.iter().any(|d| matches!(d, Doubt::Sarcasm { .. })),
        "{r:#?}"
    );
}

#[test]
fn fractions_of_time_are_not_progress() {
    let r = read(
        "",
        "Видеоуроки не открываются уже третью неделю, курс бесполезен.",
    );
    assert_eq!(r.facts.progress_percent, None);
    let r = read("", "Успела пройти уже процентов 40 курса.");
    assert_eq!(r.facts.progress_percent, Some(40));
}

#[test]
fn order_not_yet_accepted_in_kazakh() {
    let r = read("", "Тапсырыс әлі қабылданбаған, бас тартамыз.");
    assert_eq!(r.facts.order_accepted, Some(false), "{r:#?}");
    let r = read("", "Заказ уже в работе, но я хочу отказаться.");
    assert_eq!(r.facts.order_accepted, Some(true), "{r:#?}");
}

#[test]
fn more_not_delivered_and_charge_wordings() {
    certain(
        "Доступ к модулю мне так и не открыли. Раз услугу не оказали, верните деньги.",
        Reason::NotDelivered,
    );
    certain(
        "I'm tired of waiting for the parcel. Refund please.",
        Reason::NotDelivered,
    );
    certain(
        "Abonements atjaunojās, lai gan to atslēdzu. Lūdzu atgriezt naudu.",
        Reason::ErroneousCharge,
    );
    certain(
        "The subscription auto-renewed even though I had cancelled it. Please refund.",
        Reason::ErroneousCharge,
    );
}

#[test]
fn latvian_with_a_kazakh_greeting_stays_latvian() {
    certain(
        "Salemetsiz! Labdien, sūtījums man nepienāca, lūdzu atmaksu.",
        Reason::NotDelivered,
    );
}

#[test]
fn a_double_negation_says_the_goods_came() {
    let r = read(
        "",
        "It's not that the blender didn't arrive - it did, but it is red.",
    );
    assert_eq!(r.facts.goods_received, Some(true), "{r:#?}");
    assert_ne!(r.reason, Some(Reason::NotDelivered));
}

#[test]
fn russian_typed_as_pronounced() {
    certain(
        "у нас был пажар на складе, верните деньги",
        Reason::ForceMajeure,
    );
    let r = read("", "курс мне не падашол совсем. верните деньги");
    assert_eq!(r.reason, Some(Reason::Withdrawal), "{r:#?}");
    assert!(r.certain, "{r:#?}");
}

#[test]
fn a_changed_card_or_a_purchase_on_credit_is_a_stated_fact() {
    for body in [
        "Хочу отказаться от курса. Карту, с которой платил, я потерял и заблокировал, сейчас у меня перевыпущенная карта.",
        "Курсты бас тартамын. Картамды жоғалттым, жаңа карта алдым.",
        "Atsakos no kursa. Karti pazaudēju, tagad man ir jauna karte.",
        "I withdraw from the course. My card was lost and replaced with a new one.",
    ] {
        let r = read("", body);
        assert_eq!(r.facts.card_changed, Some(true), "{body}: {r:#?}");
    }
    for body in [
        "Курс купил в кредит, хочу отказаться.",
        "Курсты банк несиесімен (бөліп төлеу) сатып алдым, бас тартамын.",
        "Kursu pirku uz nomaksu, atsakos.",
        "I bought the course on credit and want to withdraw.",
    ] {
        let r = read("", body);
        assert_eq!(r.facts.paid_by_credit, Some(true), "{body}: {r:#?}");
    }
    // Paying with a credit card is neither.
    let r = read(
        "",
        "I paid with my credit card and want to withdraw from the course.",
    );
    assert_eq!(
        (r.facts.card_changed, r.facts.paid_by_credit),
        (None, None),
        "{r:#?}"
    );
}
