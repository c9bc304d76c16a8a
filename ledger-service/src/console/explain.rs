//! Why something was refused, told to the admin who has to put it right: a
//! sentence in her language saying what is wrong and what to do, naming the
//! form field when it is known, with the stable code and the ledger's own
//! words kept small beneath it for whoever she asks for help.
//!
//! The ledger's messages carry times in UTC (they are the integrators' wire
//! answers and stay as they are); what the admin reads shows them at the
//! ledger's offset, as she typed them.

use ledger_core::time::UtcOffset;
use ledger_core::values::ValueError;
use maud::{html, Markup};

use super::Lang;

/// A refusal as the console shows it.
pub struct Explained {
    pub sentence: String,
    pub code: String,
    pub detail: String,
}

impl Explained {
    /// A code the ledger or the service answered, with its message; `field`
    /// is the form field's label when the refusal names one.
    pub fn answer(
        lang: Lang,
        code: &str,
        field: Option<&str>,
        message: &str,
        offset: Option<UtcOffset>,
    ) -> Explained {
        let detail = match offset {
            Some(offset) => local_times(message, offset),
            None => message.to_owned(),
        };
        let times = match offset {
            Some(offset) => times_in(message, offset),
            None => Vec::new(),
        };
        let (zh, en) = sentence(code);
        let said = fill(lang.t(zh, en), &times);
        Explained {
            sentence: with_field(lang, field, &said),
            code: code.to_owned(),
            detail,
        }
    }

    /// A form value the console could not read, before anything was sent.
    pub fn value(lang: Lang, field: &str, error: &ValueError) -> Explained {
        Explained {
            sentence: with_field(lang, Some(field), &value_sentence(lang, error)),
            code: "MALFORMED".to_owned(),
            detail: error.to_string(),
        }
    }

    pub fn markup(&self) -> Markup {
        html! {
            span.why { (self.sentence) }
            br;
            small.code { code { (self.code) } " " (self.detail) }
        }
    }
}

fn with_field(lang: Lang, field: Option<&str>, said: &str) -> String {
    match field {
        Some(label) => format!("{label}{}{said}", lang.t("：", ": ")),
        None => said.to_owned(),
    }
}

/// Puts the message's times, in order, where the sentence says `{t1}`,
/// `{t2}`; a sentence is written so that it reads without them.
fn fill(sentence: &str, times: &[String]) -> String {
    let mut out = sentence.to_owned();
    for (i, slot) in ["{t1}", "{t2}"].iter().enumerate() {
        let time = times.get(i).map_or("", String::as_str);
        out = out.replace(slot, time);
    }
    out
}

/// The RFC 3339 times in a message, at the ledger's offset.
fn times_in(message: &str, offset: UtcOffset) -> Vec<String> {
    message
        .split_whitespace()
        .filter_map(|word| as_local(word, offset))
        .collect()
}

/// The message with each RFC 3339 time written at the ledger's offset, to
/// the minute, the way the forms take them.
fn local_times(message: &str, offset: UtcOffset) -> String {
    message
        .split(' ')
        .map(|word| match as_local(word, offset) {
            Some(local) => {
                let tail = &word[time_part(word).len()..];
                format!("{local}{tail}")
            }
            None => word.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A word's leading time, without the punctuation that follows it.
fn time_part(word: &str) -> &str {
    word.trim_end_matches(|c: char| !c.is_ascii_digit())
}

fn as_local(word: &str, offset: UtcOffset) -> Option<String> {
    let at = chrono::DateTime::parse_from_rfc3339(time_part(word)).ok()?;
    Some(
        at.with_timezone(&offset.to_chrono())
            .format("%Y-%m-%d %H:%M")
            .to_string(),
    )
}

fn value_sentence(lang: Lang, error: &ValueError) -> String {
    match error {
        ValueError::Empty { .. } => lang.t("请填写，不能为空。", "please fill it in.").to_owned(),
        ValueError::TooLong { len, max, .. } => match lang {
            Lang::Zh => format!("共 {len} 个字，最多 {max} 个，请缩短。"),
            Lang::En => format!("{len} characters, at most {max}: please shorten it."),
        },
        ValueError::BadChar { ch, .. } => match lang {
            Lang::Zh => format!(
                "含有“{ch}”。编号只能用英文字母、数字和 - _ . :（不能用汉字或空格），例如 zs-2027-01。"
            ),
            Lang::En => format!(
                "contains “{ch}”. Ids use letters, digits and - _ . : only (no spaces), e.g. zs-2027-01."
            ),
        },
        ValueError::Control { .. } => lang
            .t(
                "含有不可见的控制字符，请重新输入。",
                "contains an invisible control character: please type it again.",
            )
            .to_owned(),
        ValueError::LooksPersonal { digits, .. } => match lang {
            Lang::Zh => format!(
                "含有连续 {digits} 位数字，像身份证号或电话号码。台账不记录个人信息，请删去。"
            ),
            Lang::En => format!(
                "contains a run of {digits} digits, which looks like an ID or phone number. The ledger keeps no personal data: please remove it."
            ),
        },
        ValueError::Length { .. } | ValueError::Hex { .. } => lang
            .t("格式不对，请检查。", "is not in the expected form.")
            .to_owned(),
    }
}

/// What each code means to the admin and what she can do about it. Every
/// code the forms and pages can meet has its own sentence; `{t1}` and `{t2}`
/// are the first and second time in the ledger's message.
fn sentence(code: &str) -> (&'static str, &'static str) {
    sentence_of_service(code)
        .or_else(|| sentence_of_units_and_people(code))
        .or_else(|| sentence_of_attendance(code))
        .or_else(|| sentence_of_credits_and_points(code))
        .or_else(|| sentence_of_programmes(code))
        .unwrap_or((
            "台账未接受这项操作，详情见下方说明。",
            "The ledger did not accept this; the details are below.",
        ))
}

fn sentence_of_service(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "MALFORMED" => (
            "所填内容格式不对，请按说明修改后再提交。",
            "Something in the form is not in the expected form: correct it and submit again.",
        ),
        "FORBIDDEN" => (
            "这不在您的账户所辖单位范围内，无权查看或办理。如需办理，请联系上级工会管理员。",
            "This lies outside the units your account covers. Ask an admin of the union above.",
        ),
        "UNAUTHORIZED" => (
            "尚未登录或令牌无效，请重新登录。",
            "Not signed in, or the token is not valid: sign in again.",
        ),
        "BAD_QUERY" => (
            "查询条件无法识别。期间请填写 2026（全年）、2026-Q2（季度）、2026-03（月份）、campaign:活动编号:阶段，或留空表示全部；日期请用 2026-03-01 的格式。",
            "The filter does not make sense. A period is 2026 (a year), 2026-Q2 (a quarter), 2026-03 (a month), campaign:<id>:<phase>, or empty for all time; dates read 2026-03-01.",
        ),
        "UNAVAILABLE" => (
            "台账暂时无法写入，本次未记录。请稍后再提交一次（不会重复记录）。",
            "The ledger cannot record right now; nothing was recorded. Submit again shortly (it will not be recorded twice).",
        ),
        "CHAIN_BROKEN" | "READ_FAILED" => (
            "台账数据暂时无法读取，请稍后再试；如果持续出现，请联系系统管理员。",
            "The ledger cannot be read right now. Try again later; if it persists, tell the system's administrator.",
        ),
        "NO_CHECKPOINT" => (
            "最新记录尚未被签名检查点覆盖，稍后会自动覆盖，无需处理。",
            "The latest entries are not yet under a signed checkpoint; one will follow, nothing to do.",
        ),
        "LEDGER_NOT_OPEN" => (
            "台账尚未开启，暂不能办理。",
            "The ledger has not been opened yet.",
        ),
        "LEDGER_ALREADY_OPEN" => ("台账已经开启。", "The ledger is already open."),
        "UNKNOWN_LINK" => (
            "这个个人链接无效或已失效，请向所在工会索取新的链接。",
            "This personal link is not valid: ask your union for a new one.",
        ),
        "LINK_EXPIRED" => (
            "这个个人链接已过有效期，请向所在工会索取新的链接。",
            "This personal link has expired: ask your union for a new one.",
        ),
        "UNKNOWN_FORM" | "UNKNOWN_EXPORT" => (
            "没有这个页面，请从菜单进入。",
            "No such page: use the menu.",
        ),
        "INVALID_VALUE" => (
            "所填的值不符合规则，请按下方说明修改。",
            "A value breaks a rule: correct it as the details below say.",
        ),
        "FUTURE_TIME" => (
            "所填时间 {t1} 晚于台账当前时间 {t2}（最多允许相差 5 分钟）。请填写已经发生的时间，并核对日期。",
            "The time {t1} is later than the ledger's clock, {t2} (5 minutes' difference allowed). Enter a time that has passed, and check the date.",
        ),
        _ => return None,
    })
}

fn sentence_of_units_and_people(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "UNKNOWN_UNIT" => (
            "没有这个单位编号。请填写单位编号（如 zhongshan），不是单位名称。",
            "No unit has this id. Enter the unit's id (e.g. zhongshan), not its name.",
        ),
        "UNIT_EXISTS" => ("这个单位编号已被使用。", "This unit id is already taken."),
        "INVALID_PARENT" => (
            "这类单位不能挂在所选的上级单位下。",
            "A unit of this kind cannot sit under that parent.",
        ),
        "QUOTA_EXCEEDED" => (
            "该单位（或其上级）的名额已满。",
            "The unit (or one above it) has no places left.",
        ),
        "QUOTA_BELOW_REGISTERED" => (
            "新名额少于已登记的志愿者人数。",
            "The new quota is below the volunteers already registered.",
        ),
        "QUOTA_BELOW_ALLOTTED" => (
            "新名额少于已分配给下级单位的名额。",
            "The new quota is below what the unit's children are allotted.",
        ),
        "UNKNOWN_VOLUNTEER" => (
            "没有这个志愿者。请填写志愿者编号（志愿者页面地址中的编号，如 dl-v0001）。",
            "No such volunteer. Enter the volunteer's id (as in the address of the volunteer's page, e.g. dl-v0001).",
        ),
        "VOLUNTEER_EXISTS" => (
            "这个志愿者编号已被使用。",
            "This volunteer id is already taken.",
        ),
        "DUPLICATE_IDENTITY" => (
            "此人已在本台账登记为志愿者，不能重复登记。",
            "This person is already registered as a volunteer in this ledger.",
        ),
        "VOLUNTEER_NOT_APPROVED" => (
            "该志愿者尚未通过三级审批，暂不能参加活动或兑换。",
            "The volunteer is not yet approved at all three levels.",
        ),
        "APPROVAL_OUT_OF_ORDER" => (
            "审批须按 单位工会意见 → 区市县总工会、产业工会意见 → 市总工会意见 的顺序进行，当前应由另一级审批。请在志愿者页面查看待审批的级别。",
            "Opinions go grassroots union, then district (industry) union, then city federation: another level's opinion comes first. The volunteer's page says which one is awaited.",
        ),
        "REGISTRATION_CLOSED" => (
            "该志愿者的登记已审批完毕。",
            "This registration is already decided.",
        ),
        _ => return None,
    })
}

fn sentence_of_attendance(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "UNKNOWN_ACTIVITY" => (
            "没有这个活动编号，请到“活动”页面核对。",
            "No activity has this id: check it on the Activities page.",
        ),
        "ACTIVITY_EXISTS" => (
            "这个活动编号已被使用，请另取一个。",
            "This activity id is already taken: choose another.",
        ),
        "ACTIVITY_CANCELLED" => ("该活动已取消。", "The activity is cancelled."),
        "ACTIVITY_FULL" => (
            "该活动名额已满，不能再签到或报名。",
            "The activity's places are all taken.",
        ),
        "SIGN_UP_CLOSED" => (
            "活动已结束，报名已截止。",
            "Sign-up closed when the activity ended.",
        ),
        "ALREADY_SIGNED_UP" => (
            "该志愿者已报名此活动。",
            "The volunteer is already signed up.",
        ),
        "NOT_SIGNED_UP" => (
            "该志愿者没有报名此活动（不允许现场参加的活动，须先报名才能签到）。",
            "The volunteer is not signed up for this activity (where an activity takes no walk-ins, a check-in needs a sign-up first).",
        ),
        "ALREADY_ATTENDED" => (
            "该志愿者已有签到记录，不能取消报名。",
            "The volunteer has attendance here and cannot withdraw.",
        ),
        "OUTSIDE_WINDOW" => (
            "签到时间 {t1} 不在活动的签到时段内（活动开始前 60 分钟至活动结束）。请核对时间和日期。",
            "The check-in time {t1} is outside the activity's check-in period (60 minutes before its start to its end). Check the time and the date.",
        ),
        "NOT_INSURED" => (
            "此活动要求保险，该志愿者尚无保险记录。",
            "This activity requires insurance and none is recorded for the volunteer.",
        ),
        "DUPLICATE_CHECK_IN" => (
            "该志愿者已在此活动签到，尚未签退。请改为登记签退。",
            "The volunteer is already checked in here: record the check-out instead.",
        ),
        "CHECK_OUT_WITHOUT_CHECK_IN" => (
            "该志愿者在此活动没有未签退的签到记录。请先登记签到。",
            "The volunteer has no open check-in at this activity: record the check-in first.",
        ),
        "NEGATIVE_DURATION" => (
            "签退时间 {t1} 早于签到时间 {t2}。请核对签退时间。",
            "The check-out, {t1}, is before the check-in, {t2}: check the check-out time.",
        ),
        "ABSURD_DURATION" => (
            "一次服务不能超过 16 小时，请核对时间。",
            "One attendance cannot last more than 16 hours: check the times.",
        ),
        "OVERLAPPING_ATTENDANCE" => (
            "该志愿者在这段时间已在别处服务，时间不能重叠。请核对时间。",
            "The volunteer was attending elsewhere at that time: check the times.",
        ),
        "DAILY_LIMIT_EXCEEDED" => (
            "该志愿者当天的服务时长将超过 16 小时的上限。请核对时间。",
            "The volunteer would have more than 16 hours on that day: check the times.",
        ),
        "EXCEEDS_ACTIVITY_LENGTH" => (
            "时长超过了活动本身的时长。请核对时长。",
            "The minutes exceed what the activity lasted: check them.",
        ),
        "ACTIVITY_NOT_ENDED" => ("活动尚未结束。", "The activity has not ended yet."),
        "SELF_APPROVAL" => (
            "申请人不能批准自己的申请，须由另一位管理员批准。",
            "An admin cannot approve his own request: another admin must approve it.",
        ),
        "UNKNOWN_REQUEST" => (
            "没有这项申请，请核对申请编号（待批准页面上的 Q 开头编号）。",
            "No such request: check the number (the one beginning with Q under Requests).",
        ),
        "REVERSAL_REQUESTED" => (
            "已有一项冲正该记录的申请在等待批准，请在待批准页面处理那一项。",
            "A request to reverse this entry already waits for approval: decide that one under Requests.",
        ),
        "REQUEST_DECIDED" => (
            "这项申请已被批准、驳回或撤回，无需再处理。",
            "This request has already been approved, declined or withdrawn: nothing is left to do.",
        ),
        _ => return None,
    })
}

fn sentence_of_credits_and_points(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "UNKNOWN_CREDIT" => (
            "没有这条服务时长记录，请核对记录编号（志愿者页面上的 C 开头编号）。",
            "No such credit: check the number (the one beginning with C on the volunteer's page).",
        ),
        "CREDIT_NOT_PENDING" => (
            "这条记录已确认或已作废，不能再审核。",
            "This credit is already confirmed or void.",
        ),
        "CREDIT_NOT_IN_REVIEW" => (
            "这条记录不在复核中（只有志愿者提出异议或更正后才能复核）。公示期满后请选“确认”。",
            "This credit is not under review (only a volunteer's objection or correction opens one). Choose “Confirm” once the objection window is over.",
        ),
        "OBJECTION_WINDOW_OPEN" => (
            "这条记录仍在公示期内（至 {t1}），期满后才能确认。",
            "This credit is open to objection until {t1}; confirm it after that.",
        ),
        "OBJECTION_WINDOW_CLOSED" => (
            "这条记录的公示期已于 {t1} 结束。",
            "The objection window of this credit closed at {t1}.",
        ),
        "UNKNOWN_ENTRY" => (
            "没有这条记录。请核对冲正对象和记录编号（志愿者台账中 C、A、R 开头的编号，填数字或连同字母均可）。",
            "No such entry. Check what is reversed and its number (C…, A… or R… in the volunteer's ledger; with or without the letter).",
        ),
        "ALREADY_REVERSED" => (
            "这条记录已冲正或已作废，不能再次冲正。",
            "This entry is already reversed or void.",
        ),
        "REVERSAL_WOULD_OVERDRAW" => (
            "冲正后该志愿者的积分余额将为负（积分已用于兑换）。请先冲正相应的积分兑换（R 开头的编号），再冲正这条记录。",
            "Reversing this would take the volunteer's balance below zero (the points were spent). Reverse the redemption (R…) first.",
        ),
        "UNKNOWN_REWARD" => (
            "没有这个奖品编号，请核对。",
            "No reward has this id: check it.",
        ),
        "REWARD_EXISTS" => ("这个奖品编号已被使用。", "This reward id is already taken."),
        "REWARD_NOT_FOR_VOLUNTEER" => (
            "这是其他单位的奖品，只供该单位（及其下属单位）的志愿者兑换；请选本单位或市总工会的奖品。",
            "This reward is another unit's, for that unit's own volunteers: choose one of your unit's or the city's.",
        ),
        "OUT_OF_STOCK" => (
            "奖品库存不足，请减少数量。",
            "Not enough in stock: lower the quantity.",
        ),
        "INSUFFICIENT_BALANCE" => (
            "该志愿者的积分余额不足以兑换，请减少数量。",
            "The volunteer's balance does not cover this: lower the quantity.",
        ),
        _ => return None,
    })
}

fn sentence_of_programmes(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "UNKNOWN_PROJECT" => ("没有这个项目。", "No such project."),
        "PROJECT_EXISTS" => (
            "这个项目编号已被使用。",
            "This project id is already taken.",
        ),
        "PROJECT_NOT_APPROVED" => ("该项目尚未获批。", "The project is not approved."),
        "PROJECT_DECIDED" => ("该项目已审批完毕。", "The project is already decided."),
        "ALREADY_UNDERTAKEN" => (
            "该单位已承接这个项目。",
            "The unit already undertakes this project.",
        ),
        "UNKNOWN_WISH" => ("没有这个微心愿。", "No such wish."),
        "WISH_EXISTS" => ("这个微心愿编号已被使用。", "This wish id is already taken."),
        "WISH_NOT_OPEN" => ("该微心愿不是可认领状态。", "The wish is not open."),
        "WISH_NOT_CLAIMED_BY" => (
            "该微心愿不是由这位志愿者认领的。",
            "The wish is not claimed by this volunteer.",
        ),
        "UNKNOWN_PAIRING" => ("没有这个结对。", "No such pairing."),
        "PAIRING_EXISTS" => (
            "这个结对编号已被使用。",
            "This pairing id is already taken.",
        ),
        "ALREADY_PAIRED" => (
            "该志愿者已有进行中的结对。",
            "The volunteer already has an active pairing.",
        ),
        "PAIRING_ENDED" => ("该结对已结束。", "The pairing has ended."),
        "UNKNOWN_CAMPAIGN" => ("没有这个专项活动。", "No such campaign."),
        "CAMPAIGN_EXISTS" => (
            "这个专项活动编号已被使用。",
            "This campaign id is already taken.",
        ),
        "REPORT_EXISTS" => ("这个报告编号已被使用。", "This report id is already taken."),
        "UNKNOWN_DEADLINE" => (
            "该专项活动没有这个截止节点。",
            "The campaign has no such deadline.",
        ),
        "CHECKPOINT_AHEAD" => (
            "检查点覆盖的记录多于已记录的条数。",
            "The checkpoint covers more events than are recorded.",
        ),
        "BAD_SIGNATURE" => (
            "签名无法用台账公钥验证。",
            "The signature does not verify with the ledger's key.",
        ),
        _ => return None,
    })
}

/// The codes of the service itself, besides the ledger's rejections.
#[cfg(test)]
const SERVICE_CODES: &[&str] = &[
    "MALFORMED",
    "FORBIDDEN",
    "UNAUTHORIZED",
    "BAD_QUERY",
    "UNAVAILABLE",
    "CHAIN_BROKEN",
    "READ_FAILED",
    "NO_CHECKPOINT",
    "UNKNOWN_LINK",
    "LINK_EXPIRED",
    "UNKNOWN_FORM",
    "UNKNOWN_EXPORT",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rejection code of docs/events.md, read from its table, so that
    /// a code added there without a sentence here fails.
    fn documented_codes() -> Vec<String> {
        let events = include_str!("../../../docs/events.md");
        let table = events
            .split("## 4. Rejection codes")
            .nth(1)
            .and_then(|rest| rest.split("\n---").next())
            .expect("the rejection codes' section");
        table
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|line| line.split('`').next())
            .map(str::to_owned)
            .collect()
    }

    fn is_chinese(c: char) -> bool {
        ('\u{4e00}'..='\u{9fff}').contains(&c)
    }

    #[test]
    fn every_code_has_its_own_sentence_in_both_languages() {
        let codes = documented_codes();
        assert_eq!(codes.len(), 70, "{codes:?}");
        for code in codes
            .iter()
            .map(String::as_str)
            .chain(SERVICE_CODES.iter().copied())
        {
            let (zh, en) = sentence(code);
            assert!(
                !zh.contains("详情见下方"),
                "{code} has no sentence of its own"
            );
            assert!(zh.chars().any(is_chinese), "{code}: {zh}");
            assert!(!en.chars().any(is_chinese), "{code}: {en}");
        }
    }

    #[test]
    fn times_are_shown_at_the_ledger_offset() {
        let message = "at 2026-12-10T01:05:00+00:00 is in the future: the ledger's clock reads 2026-12-07T19:41:56.866473+00:00, and allows 5 minutes' difference";
        let e = Explained::answer(
            Lang::Zh,
            "FUTURE_TIME",
            Some("签到时间"),
            message,
            Some(UtcOffset(480)),
        );
        assert_eq!(
            e.sentence,
            "签到时间：所填时间 2026-12-10 09:05 晚于台账当前时间 2026-12-08 03:41（最多允许相差 5 分钟）。请填写已经发生的时间，并核对日期。"
        );
        assert_eq!(
            e.detail,
            "at 2026-12-10 09:05 is in the future: the ledger's clock reads 2026-12-08 03:41, and allows 5 minutes' difference"
        );
        assert!(!e.detail.contains("+00:00"));
        let negative = Explained::answer(
            Lang::En,
            "NEGATIVE_DURATION",
            Some("Checked out at"),
            "check-out at 2026-12-07T19:00:00+00:00 is before check-in at 2026-12-07T19:10:00+00:00",
            Some(UtcOffset(480)),
        );
        assert_eq!(
            negative.sentence,
            "Checked out at: The check-out, 2026-12-08 03:00, is before the check-in, 2026-12-08 03:10: check the check-out time."
        );
    }

    #[test]
    fn a_value_the_form_could_not_read_names_its_field() {
        let error = ledger_core::values::ActivityId::new("2027春-中山-01").expect_err("refused");
        let e = Explained::value(Lang::Zh, "活动编号", &error);
        assert!(
            e.sentence.starts_with("活动编号：含有“春”"),
            "{}",
            e.sentence
        );
        assert_eq!(e.code, "MALFORMED");
        let empty = Explained::value(Lang::Zh, "理由", &ValueError::Empty { what: "text" });
        assert_eq!(empty.sentence, "理由：请填写，不能为空。");
    }
}
