//! The statement as a PDF on A4: the same words as the web page, laid out
//! into pages here (tables split across pages with their headings
//! repeated, a footer with the page count), then drawn with krilla, which
//! embeds the subset of the font it uses. The signed statement itself rides
//! along as an attached file, so a printed-out PDF still carries what
//! `ledger verify-statement` checks.

use krilla::color::rgb;
use krilla::embed::{AssociationKind, EmbeddedFile, MimeType};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use ledger_core::time::UtcOffset;
use thiserror::Error;

use super::printed::{self, Content, COLUMNS, TITLE, TITLE_EN};
use super::{Statement, StatementFont};

#[derive(Debug, Error)]
pub enum PdfError {
    #[error("the font {0} cannot be embedded in a PDF")]
    Font(String),
    #[error("writing the PDF failed: {0}")]
    Write(String),
}

/// A4, in points.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const LEFT: f32 = 56.0;
const RIGHT: f32 = PAGE_WIDTH - 56.0;
const TOP: f32 = 56.0;
/// Where content stops; the footer sits below.
const BOTTOM: f32 = PAGE_HEIGHT - 72.0;
const FOOTER: f32 = PAGE_HEIGHT - 40.0;
/// Space between a cell's border and its text.
const PAD: f32 = 4.0;
/// A line's height as a multiple of its font size.
const LEADING: f32 = 1.4;

const BODY: f32 = 9.5;
const SMALL: f32 = 7.0;
const NOTE: f32 = 8.0;

/// The record table's column widths; the third (the record) takes the rest.
const FIXED_COLUMNS: [f32; 6] = [28.0, 92.0, 0.0, 66.0, 40.0, 52.0];
const LABEL_COLUMN: f32 = 128.0;

/// Renders a statement (which the caller has signed or checked) as a PDF.
pub fn render_pdf(statement: &Statement, font: &StatementFont) -> Result<Vec<u8>, PdfError> {
    let pages = layout(&printed::content(statement), font);
    let issued = issued_at(statement);
    let signed =
        serde_json::to_vec_pretty(statement).map_err(|e| PdfError::Write(e.to_string()))?;
    let attachment = EmbeddedFile {
        path: format!("statement-{}.json", statement.body.volunteer),
        mime_type: MimeType::new("application/json"),
        description: Some(
            "签名的服务记录证明，可用 ledger verify-statement 离线核验 / \
             the signed statement, checked offline by ledger verify-statement"
                .into(),
        ),
        association_kind: AssociationKind::Data,
        data: signed.into(),
        modification_date: Some(issued),
        compress: None,
        location: None,
    };
    write(&pages, font, issued, attachment)
}

/// Draws laid-out pages into a PDF document.
fn write(
    pages: &[Vec<Mark>],
    font: &StatementFont,
    issued: DateTime,
    attachment: EmbeddedFile,
) -> Result<Vec<u8>, PdfError> {
    let face = Font::new(font.data().into(), 0)
        .ok_or_else(|| PdfError::Font(font.path().display().to_string()))?;
    let size = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| PdfError::Write("the page size".into()))?;
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{TITLE} · {TITLE_EN}"))
            .language("zh-CN".into())
            .creator("union-volunteer-ledger".into())
            .creation_date(issued),
    );
    for marks in pages {
        let mut page = document.start_page_with(size.clone());
        let mut surface = page.surface();
        for mark in marks {
            draw(&mut surface, &face, mark);
        }
        surface.finish();
        page.finish();
    }
    document.embed_file(attachment);
    document
        .finish()
        .map_err(|e| PdfError::Write(format!("{e:?}")))
}

fn issued_at(statement: &Statement) -> DateTime {
    use chrono::{Datelike, Timelike};
    let t = statement
        .body
        .issued_at
        .to_chrono()
        .with_timezone(&UtcOffset::CHINA.to_chrono());
    DateTime::new(u16::try_from(t.year()).unwrap_or(1970))
        .month(t.month() as u8)
        .day(t.day() as u8)
        .hour(t.hour() as u8)
        .minute(t.minute() as u8)
        .second(t.second() as u8)
        .utc_offset_hour(8)
}

fn draw(surface: &mut Surface<'_>, font: &Font, mark: &Mark) {
    match mark {
        Mark::Text {
            x,
            baseline,
            size,
            tone,
            text,
        } => {
            let grey = match tone {
                Tone::Ink => 17,
                Tone::Muted => 102,
            };
            surface.set_stroke(None);
            surface.set_fill(Some(Fill {
                paint: rgb::Color::new(grey, grey, grey).into(),
                ..Default::default()
            }));
            surface.draw_text(
                Point::from_xy(*x, *baseline),
                font.clone(),
                *size,
                text,
                false,
                TextDirection::Auto,
            );
        }
        Mark::Rule { from, to } => {
            let mut path = PathBuilder::new();
            path.move_to(from.0, from.1);
            path.line_to(to.0, to.1);
            if let Some(path) = path.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: rgb::Color::new(153, 153, 153).into(),
                    width: 0.5,
                    ..Default::default()
                }));
                surface.draw_path(&path);
            }
        }
        Mark::Shade {
            x,
            y,
            width,
            height,
        } => {
            let mut path = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(*x, *y, *width, *height) {
                path.push_rect(rect);
            }
            if let Some(path) = path.finish() {
                surface.set_stroke(None);
                surface.set_fill(Some(Fill {
                    paint: rgb::Color::new(244, 244, 244).into(),
                    ..Default::default()
                }));
                surface.draw_path(&path);
            }
        }
    }
}

/// How wide a line of text is set, in points.
pub(crate) trait Measure {
    fn width(&self, text: &str, size: f32) -> f32;
}

impl Measure for StatementFont {
    fn width(&self, text: &str, size: f32) -> f32 {
        StatementFont::width(self, text, size)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    Ink,
    Muted,
}

/// One thing drawn on a page; coordinates in points from the top left.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Mark {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        tone: Tone,
        text: String,
    },
    Rule {
        from: (f32, f32),
        to: (f32, f32),
    },
    Shade {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
    },
}

/// A line of a cell, already wrapped to the cell's width.
#[derive(Clone)]
struct Line {
    text: String,
    size: f32,
    tone: Tone,
}

/// A table cell: its lines, and whether they sit against the right border.
#[derive(Clone)]
struct Cell {
    lines: Vec<Line>,
    right: bool,
}

impl Cell {
    fn height(&self) -> f32 {
        self.lines.iter().map(|l| l.size * LEADING).sum()
    }
}

/// Lays the content out into pages of marks.
pub(crate) fn layout(content: &Content, measure: &impl Measure) -> Vec<Vec<Mark>> {
    let mut pages = Pages::new(measure);
    pages.centred(TITLE, 20.0, Tone::Ink);
    pages.centred(
        &format!("{TITLE_EN} · 证明编号 {}", content.number),
        SMALL + 1.0,
        Tone::Muted,
    );
    pages.gap(10.0);

    let label = LABEL_COLUMN;
    let widths = [label, RIGHT - LEFT - label];
    for field in &content.fields {
        let row = [
            pages.heading_cell(field.zh, field.en, label),
            pages.cell(&field.value, BODY, Tone::Ink, widths[1], false),
        ];
        pages.row(&widths, &row, &[true, false], None);
    }
    pages.gap(14.0);
    pages.left("服务记录  Service records", 12.0, Tone::Ink);
    pages.gap(4.0);

    let mut widths = FIXED_COLUMNS;
    widths[2] = RIGHT - LEFT - FIXED_COLUMNS.iter().sum::<f32>();
    let heading: Vec<Cell> = COLUMNS
        .iter()
        .zip(widths)
        .map(|((zh, en), w)| pages.heading_cell(zh, en, w))
        .collect();
    let shaded = [true; 6];
    pages.row(&widths, &heading, &shaded, None);
    for r in &content.rows {
        let cells = [
            pages.cell(&r.number.to_string(), BODY, Tone::Ink, widths[0], true),
            pages.cell(&r.time, BODY, Tone::Ink, widths[1], false),
            pages.cell(&r.what, BODY, Tone::Ink, widths[2], false),
            pages.cell(&r.hours, BODY, Tone::Ink, widths[3], true),
            pages.cell(&r.points, BODY, Tone::Ink, widths[4], true),
            pages.cell(&r.sequence.to_string(), BODY, Tone::Ink, widths[5], true),
        ];
        pages.row(&widths, &cells, &[false; 6], Some((&heading, &shaded)));
    }
    pages.gap(10.0);
    pages.paragraph(&content.totals, NOTE + 1.0, Tone::Ink);
    pages.gap(4.0);
    pages.paragraph(&content.verification, NOTE, Tone::Muted);
    pages.finish(&content.number)
}

/// Pages being filled, top to bottom.
struct Pages<'m, M> {
    measure: &'m M,
    /// The pages before the current one.
    full: Vec<Vec<Mark>>,
    current: Vec<Mark>,
    /// How far down the current page is filled.
    y: f32,
}

impl<'m, M: Measure> Pages<'m, M> {
    fn new(measure: &'m M) -> Self {
        Self {
            measure,
            full: Vec::new(),
            current: Vec::new(),
            y: TOP,
        }
    }

    fn new_page(&mut self) {
        self.full.push(std::mem::take(&mut self.current));
        self.y = TOP;
    }

    /// Makes room for `height` more, on a new page if this one is full.
    /// Returns whether a page was started.
    fn room(&mut self, height: f32) -> bool {
        let fresh = self.y <= TOP;
        if self.y + height > BOTTOM && !fresh {
            self.new_page();
            return true;
        }
        false
    }

    fn gap(&mut self, height: f32) {
        self.y = (self.y + height).min(BOTTOM);
    }

    fn text(&mut self, x: f32, size: f32, tone: Tone, text: &str) {
        let baseline = self.y + size;
        self.current.push(Mark::Text {
            x,
            baseline,
            size,
            tone,
            text: text.to_owned(),
        });
    }

    fn centred(&mut self, text: &str, size: f32, tone: Tone) {
        self.room(size * LEADING);
        let x = (PAGE_WIDTH - self.measure.width(text, size)) / 2.0;
        self.text(x.max(LEFT), size, tone, text);
        self.y += size * LEADING;
    }

    fn left(&mut self, text: &str, size: f32, tone: Tone) {
        self.room(size * LEADING);
        self.text(LEFT, size, tone, text);
        self.y += size * LEADING;
    }

    fn paragraph(&mut self, text: &str, size: f32, tone: Tone) {
        for line in wrap(self.measure, text, size, RIGHT - LEFT) {
            self.left(&line, size, tone);
        }
    }

    fn cell(&self, text: &str, size: f32, tone: Tone, width: f32, right: bool) -> Cell {
        let lines = wrap(self.measure, text, size, width - 2.0 * PAD)
            .into_iter()
            .map(|text| Line { text, size, tone })
            .collect();
        Cell { lines, right }
    }

    /// A heading: Chinese, with English below it in small grey.
    fn heading_cell(&self, zh: &str, en: &str, width: f32) -> Cell {
        let mut cell = self.cell(zh, BODY, Tone::Ink, width, false);
        cell.lines
            .extend(self.cell(en, SMALL, Tone::Muted, width, false).lines);
        cell
    }

    /// A table row; on a new page, `repeat` (the table's heading) comes
    /// first.
    fn row(
        &mut self,
        widths: &[f32],
        cells: &[Cell],
        shaded: &[bool],
        repeat: Option<(&[Cell], &[bool])>,
    ) {
        let height = row_height(cells);
        if self.room(height) {
            if let Some((heading, heading_shaded)) = repeat {
                self.draw_row(widths, heading, heading_shaded);
            }
        }
        self.draw_row(widths, cells, shaded);
    }

    fn draw_row(&mut self, widths: &[f32], cells: &[Cell], shaded: &[bool]) {
        let top = self.y;
        let height = row_height(cells);
        let bottom = top + height;
        let mut x = LEFT;
        for ((cell, width), shade) in cells.iter().zip(widths).zip(shaded) {
            if *shade {
                self.current.push(Mark::Shade {
                    x,
                    y: top,
                    width: *width,
                    height,
                });
            }
            let mut y = top + PAD;
            for line in &cell.lines {
                let tx = if cell.right {
                    x + width - PAD - self.measure.width(&line.text, line.size)
                } else {
                    x + PAD
                };
                self.current.push(Mark::Text {
                    x: tx,
                    baseline: y + line.size,
                    size: line.size,
                    tone: line.tone,
                    text: line.text.clone(),
                });
                y += line.size * LEADING;
            }
            x += width;
        }
        let rules = &mut self.current;
        rules.push(Mark::Rule {
            from: (LEFT, top),
            to: (x, top),
        });
        rules.push(Mark::Rule {
            from: (LEFT, bottom),
            to: (x, bottom),
        });
        let mut edge = LEFT;
        rules.push(Mark::Rule {
            from: (edge, top),
            to: (edge, bottom),
        });
        for width in widths {
            edge += width;
            rules.push(Mark::Rule {
                from: (edge, top),
                to: (edge, bottom),
            });
        }
        self.y = bottom;
    }

    /// Adds each page's footer, now that the count is known.
    fn finish(self, number: &str) -> Vec<Vec<Mark>> {
        let mut pages = self.full;
        pages.push(self.current);
        let count = pages.len();
        for (i, marks) in pages.iter_mut().enumerate() {
            let page = i + 1;
            let right = format!("第 {page} 页，共 {count} 页 · Page {page} of {count}");
            let x = RIGHT - self.measure.width(&right, SMALL);
            for (x, text) in [(LEFT, format!("证明编号 {number}")), (x, right)] {
                marks.push(Mark::Text {
                    x,
                    baseline: FOOTER,
                    size: SMALL,
                    tone: Tone::Muted,
                    text,
                });
            }
        }
        pages
    }
}

fn row_height(cells: &[Cell]) -> f32 {
    let tallest = cells.iter().map(Cell::height).fold(0.0, f32::max);
    tallest + 2.0 * PAD
}

/// Breaks text into lines no wider than `width`: between Chinese
/// characters anywhere, between other words at spaces, and inside a word
/// only when it alone is too wide (a hash, a key).
pub(crate) fn wrap(measure: &impl Measure, text: &str, size: f32, width: f32) -> Vec<String> {
    let fits = |s: &str| measure.width(s, size) <= width;
    let mut lines = Vec::new();
    let mut line = String::new();
    for token in tokens(text) {
        let candidate = format!("{line}{token}");
        if fits(&candidate) {
            line = candidate;
            continue;
        }
        if !line.trim().is_empty() {
            lines.push(line.trim_end().to_owned());
        }
        line = String::new();
        if token.trim().is_empty() {
            continue;
        }
        for c in token.chars() {
            if !line.is_empty() && !fits(&format!("{line}{c}")) {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.trim().is_empty() || lines.is_empty() {
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// Words of Latin script, single spaces, and single Chinese characters.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let alone = c.is_whitespace() || !c.is_ascii();
        match (alone, start) {
            (true, Some(s)) => {
                out.push(&text[s..i]);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
        if alone {
            out.push(&text[i..i + c.len_utf8()]);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::printed::{Field, Row};
    use proptest::prelude::*;

    /// Half an em for ASCII, a whole em for anything else, as CJK fonts
    /// roughly set them.
    struct Even;

    impl Measure for Even {
        fn width(&self, text: &str, size: f32) -> f32 {
            text.chars()
                .map(|c| if c.is_ascii() { 0.5 } else { 1.0 })
                .sum::<f32>()
                * size
        }
    }

    fn content(events: usize) -> Content {
        Content {
            number: "lyg-v1-1700000000".into(),
            fields: vec![Field {
                zh: "志愿者编号",
                en: "Volunteer number",
                value: "LYG-000042".into(),
            }],
            rows: (1..=events)
                .map(|i| Row {
                    number: i,
                    time: "2026-05-01 09:30".into(),
                    what: if i % 7 == 0 {
                        "记录服务时长（待确认）社区关爱行动第二季·夏季助学志愿服务".into()
                    } else {
                        "签到 a1".into()
                    },
                    hours: if i % 3 == 0 {
                        "1.50".into()
                    } else {
                        String::new()
                    },
                    points: String::new(),
                    sequence: 1000 + i as u64,
                })
                .collect(),
            totals: "合计：确认服务时长 1.50 小时，获得积分 10，兑换积分 0。".into(),
            verification: format!(
                "核验 / Verification：根 {} 密钥 {}",
                "ab".repeat(32),
                "cd".repeat(32)
            ),
        }
    }

    fn texts(page: &[Mark]) -> Vec<&str> {
        page.iter()
            .filter_map(|m| match m {
                Mark::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_long_record_runs_onto_more_pages_with_the_heading_on_each() {
        let pages = layout(&content(150), &Even);
        assert!(pages.len() >= 3, "{} pages", pages.len());
        for (i, page) in pages.iter().enumerate() {
            let texts = texts(page);
            assert!(texts.contains(&"序号"), "page {} lacks the heading", i + 1);
            let footer = format!(
                "第 {} 页，共 {} 页 · Page {} of {}",
                i + 1,
                pages.len(),
                i + 1,
                pages.len()
            );
            assert!(
                texts.contains(&footer.as_str()),
                "page {}: {texts:?}",
                i + 1
            );
        }
        let sequences: Vec<String> = pages
            .iter()
            .flat_map(|p| texts(p))
            .filter(|t| t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) && t.starts_with('1'))
            .map(str::to_owned)
            .collect();
        let expected: Vec<String> = (1001..=1150).map(|s| s.to_string()).collect();
        assert_eq!(sequences, expected, "every event once, in order");
    }

    #[test]
    fn nothing_is_drawn_outside_the_margins() {
        for page in layout(&content(150), &Even) {
            for mark in &page {
                match mark {
                    Mark::Text {
                        x,
                        baseline,
                        size,
                        text,
                        ..
                    } => {
                        assert!(*x >= LEFT - 0.01, "{text} starts at {x}");
                        assert!(
                            x + Even.width(text, *size) <= RIGHT + 0.01,
                            "{text} runs past the right margin"
                        );
                        assert!(
                            *baseline <= BOTTOM || *baseline == FOOTER,
                            "{text} at {baseline}"
                        );
                    }
                    Mark::Rule { from, to } => {
                        assert!(
                            from.1.max(to.1) <= BOTTOM + 0.01,
                            "a rule at {from:?}–{to:?}"
                        );
                    }
                    Mark::Shade { y, height, .. } => assert!(y + height <= BOTTOM + 0.01),
                }
            }
        }
    }

    #[test]
    fn a_short_statement_is_one_page() {
        assert_eq!(layout(&content(5), &Even).len(), 1);
    }

    proptest! {
        #[test]
        fn wrapped_lines_fit_and_keep_every_character(
            text in "[a-f0-9 志愿服务记录（）]{0,200}",
            width in 20.0f32..400.0,
        ) {
            let lines = wrap(&Even, &text, 10.0, width);
            for line in &lines {
                prop_assert!(Even.width(line, 10.0) <= width || line.chars().count() == 1, "{line:?}");
            }
            let kept: String = lines.concat().chars().filter(|c| !c.is_whitespace()).collect();
            let given: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            prop_assert_eq!(kept, given);
        }
    }
}
