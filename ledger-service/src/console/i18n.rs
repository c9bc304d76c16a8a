//! The console's two languages. Chinese is the default: the admins of the
//! federations read it first. Each text is written at its use site in both
//! languages, so a page reads as one piece and nothing goes untranslated.

use ledger_core::domain::Category;
use projections::Metric;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The text in this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn metric(self, m: Metric) -> &'static str {
        match m {
            Metric::Hours => self.t("服务时长", "Hours"),
            Metric::Points => self.t("积分", "Points"),
        }
    }

    /// An event's kind, as a volunteer's history names it.
    pub fn event_kind(self, kind: &str) -> String {
        let (zh, en) = match kind {
            "volunteer_registered" => ("登记", "Registered"),
            "volunteer_approved" => ("审批通过", "Approved"),
            "volunteer_rejected" => ("审批未通过", "Rejected"),
            "signed_up" => ("报名", "Signed up"),
            "sign_up_cancelled" => ("取消报名", "Sign-up cancelled"),
            "insurance_recorded" => ("登记保险", "Insurance recorded"),
            "checked_in" => ("签到", "Checked in"),
            "checked_out" => ("签退", "Checked out"),
            "hours_credited" => ("记入服务时长（待确认）", "Hours credited (pending)"),
            "credit_disputed" => ("提出异议或更正", "Credit disputed"),
            "credit_reviewed" => ("复核", "Credit reviewed"),
            "credit_confirmed" => ("服务时长确认", "Hours confirmed"),
            "points_awarded" => ("获得积分", "Points awarded"),
            "reward_redeemed" => ("积分兑换", "Reward redeemed"),
            "entry_reversed" => ("冲正", "Entry reversed"),
            "wish_claimed" => ("认领微心愿", "Wish claimed"),
            "wish_fulfilled" => ("完成微心愿", "Wish fulfilled"),
            "pairing_started" => ("开始一助一结对", "Pairing started"),
            "pairing_ended" => ("结束一助一结对", "Pairing ended"),
            other => return other.to_owned(),
        };
        self.t(zh, en).to_owned()
    }

    pub fn category(self, c: Category) -> &'static str {
        let (zh, en) = category_names(c);
        self.t(zh, en)
    }
}

/// The service lines named in the notices.
fn category_names(c: Category) -> (&'static str, &'static str) {
    match c {
        Category::CivilityTalk => ("文明知识宣讲", "Civility talks"),
        Category::TrafficOrder => ("交通文明劝导", "Traffic order"),
        Category::Environment => ("环境保护", "Environment"),
        Category::ModelWorkerMentoring => ("劳模宣讲、传帮带", "Model-worker mentoring"),
        Category::WindowService => ("窗口服务", "Window service"),
        Category::HardshipCare => ("困难职工帮扶", "Care for hardship workers"),
        Category::LegalAid => ("法律援助", "Legal aid"),
        Category::PsychologicalSupport => ("心理疏导", "Psychological support"),
        Category::CultureToGrassroots => ("文化下基层", "Culture to the grassroots"),
        Category::EpidemicControl => ("疫情防控", "Epidemic control"),
        Category::PovertyRelief => ("扶贫济困", "Poverty relief"),
        Category::JobFair => ("招聘会", "Job fairs"),
        Category::FreeClinic => ("义诊", "Free clinics"),
        Category::TreePlanting => ("植树", "Tree planting"),
        Category::Donation => ("捐赠", "Donations"),
        Category::MicroWish => ("微心愿", "Micro-wishes"),
        Category::OneToOne => ("一助一结对", "One-to-one pairing"),
        Category::Other => ("其他", "Other"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_round_trip_and_default_to_chinese_first() {
        for lang in [Lang::Zh, Lang::En] {
            assert_eq!(Lang::parse(lang.code()), Some(lang));
            assert_ne!(lang.other(), lang);
        }
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(Lang::Zh.t("积分", "Points"), "积分");
        assert_eq!(Lang::En.metric(Metric::Points), "Points");
    }
}
