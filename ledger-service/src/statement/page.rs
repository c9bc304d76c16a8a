//! The statement as a printable web page, in Chinese with English beside
//! it.

use super::printed::{self, COLUMNS, TITLE, TITLE_EN};
use super::Statement;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render_html(statement: &Statement) -> String {
    let content = printed::content(statement);
    let fields: String = content
        .fields
        .iter()
        .map(|f| {
            format!(
                "<tr><th>{}<span class=\"en\">{}</span></th><td>{}</td></tr>\n",
                f.zh,
                f.en,
                escape(&f.value)
            )
        })
        .collect();
    let widths = ["3em", "9em", "auto", "5em", "4em", "5em"];
    let headings: String = COLUMNS
        .iter()
        .zip(widths)
        .map(|((zh, en), w)| {
            format!("<th style=\"width:{w}\">{zh}<span class=\"en\">{en}</span></th>")
        })
        .collect();
    let rows: String = content
        .rows
        .iter()
        .map(|r| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>\n",
                r.number,
                r.time,
                escape(&r.what),
                r.hours,
                r.points,
                r.sequence
            )
        })
        .collect();
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{TITLE} · {TITLE_EN}</title>
<style>
body {{ font-family: "Noto Serif CJK SC", "Songti SC", serif; max-width: 48em; margin: 2em auto; color: #111; }}
h1 {{ text-align: center; letter-spacing: .3em; margin-bottom: 0; }}
.sub {{ text-align: center; color: #555; margin-top: .2em; }}
table {{ border-collapse: collapse; width: 100%; margin: 1em 0; }}
th, td {{ border: 1px solid #999; padding: .35em .5em; text-align: left; vertical-align: top; }}
th {{ width: 12em; background: #f4f4f4; font-weight: normal; }}
.en {{ display: block; font-size: .75em; color: #666; }}
.mono {{ font-family: monospace; font-size: .85em; word-break: break-all; }}
.note {{ font-size: .85em; color: #333; word-break: break-all; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>{TITLE}</h1>
<p class="sub">{TITLE_EN} · 证明编号 {number}</p>
<table>
{fields}</table>
<h2>服务记录 <span class="en">Service records</span></h2>
<table>
<tr>{headings}</tr>
{rows}</table>
<p class="note">{totals}</p>
<p class="note">{verification}</p>
</body></html>
"#,
        number = escape(&content.number),
        totals = escape(&content.totals),
        verification = escape(&content.verification),
    )
}
