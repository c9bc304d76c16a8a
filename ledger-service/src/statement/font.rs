//! The font statements are printed in. A PDF carries its glyphs, so the
//! service needs a font file that covers Chinese; it finds one of the
//! common system fonts or is told where one is.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};
use thiserror::Error;

/// Fonts looked for when none is named, in order: Debian's packages
/// fonts-wqy-microhei, fonts-wqy-zenhei, fonts-noto-cjk and
/// fonts-arphic-uming.
pub const SYSTEM_FONTS: [&str; 5] = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
];

/// Characters every statement prints; a font without them is no use.
const MUST_COVER: &str = "志愿服务记录证明合计核验账本积分时长序号页共第Page0123456789:-";

#[derive(Debug, Error)]
pub enum FontError {
    #[error("no font that covers Chinese in {searched:?}; install fonts-wqy-microhei or name one with --statement-font")]
    NotFound { searched: Vec<PathBuf> },
    #[error("cannot read the font {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a TrueType or OpenType font (or collection): {why}")]
    NotAFont { path: PathBuf, why: String },
    #[error("{path} has no glyphs for {missing:?}: statements need a font that covers Chinese")]
    NotChinese { path: PathBuf, missing: String },
}

/// A font file (the first face of a collection), checked to cover what a
/// statement prints.
#[derive(Clone)]
pub struct StatementFont {
    path: PathBuf,
    data: Arc<Vec<u8>>,
}

impl std::fmt::Debug for StatementFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatementFont")
            .field("path", &self.path)
            .finish()
    }
}

impl StatementFont {
    /// The named font, or else the first of [`SYSTEM_FONTS`] present.
    pub fn find(named: Option<&Path>) -> Result<Self, FontError> {
        if let Some(path) = named {
            return Self::load(path);
        }
        let present = SYSTEM_FONTS.iter().map(Path::new).find(|p| p.is_file());
        match present {
            Some(path) => Self::load(path),
            None => Err(FontError::NotFound {
                searched: SYSTEM_FONTS.iter().map(PathBuf::from).collect(),
            }),
        }
    }

    pub fn load(path: &Path) -> Result<Self, FontError> {
        let data = std::fs::read(path).map_err(|source| FontError::Read {
            path: path.to_owned(),
            source,
        })?;
        let font = Self {
            path: path.to_owned(),
            data: Arc::new(data),
        };
        let face = font.face().map_err(|why| FontError::NotAFont {
            path: path.to_owned(),
            why,
        })?;
        let charmap = face.charmap();
        let missing: String = MUST_COVER
            .chars()
            .filter(|c| charmap.map(*c).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(FontError::NotChinese {
                path: path.to_owned(),
                missing,
            });
        }
        Ok(font)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn data(&self) -> Arc<Vec<u8>> {
        self.data.clone()
    }

    fn face(&self) -> Result<FontRef<'_>, String> {
        FontRef::from_index(&self.data, 0).map_err(|e| e.to_string())
    }

    /// The advance of `text` set in one line at `size` points, in points.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        let Ok(face) = self.face() else { return 0.0 };
        let charmap = face.charmap();
        let metrics = face.glyph_metrics(Size::unscaled(), LocationRef::default());
        let units_per_em = f32::from(
            face.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        let units: f32 = text
            .chars()
            .map(|c| {
                let glyph = charmap.map(c).unwrap_or_default();
                metrics.advance_width(glyph).unwrap_or(0.0)
            })
            .sum();
        units * size / units_per_em.max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_or_one_that_is_no_font_is_refused_by_name() {
        let missing = Path::new("/nonexistent/font.ttc");
        assert!(matches!(
            StatementFont::find(Some(missing)),
            Err(FontError::Read { path, .. }) if path == missing
        ));
        let text = std::env::temp_dir().join(format!("not-a-font-{}.ttf", std::process::id()));
        std::fs::write(&text, "志愿服务").expect("a scratch file");
        let found = StatementFont::load(&text);
        std::fs::remove_file(&text).ok();
        assert!(
            matches!(found, Err(FontError::NotAFont { .. })),
            "{found:?}"
        );
    }

    /// The machines this runs on have Debian's fonts-wqy-microhei (the
    /// console's tests need it too).
    #[test]
    fn a_system_font_is_found_and_sets_chinese_a_full_em_wide() {
        let font = StatementFont::find(None).expect("a CJK system font");
        let em = font.width("志", 10.0);
        assert!((9.0..=10.5).contains(&em), "志 at 10 pt is {em} pt wide");
        let digits = font.width("0123456789", 10.0);
        assert!(digits > 30.0 && digits < 80.0, "{digits}");
        assert_eq!(font.width("", 10.0), 0.0);
    }
}
