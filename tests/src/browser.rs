//! A real browser for the console's tests: Debian's headless Chromium,
//! driven over WebDriver by its ChromeDriver, which the harness starts on a
//! free port. `.ci/run` installs both packages when they are missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Where the tests leave screenshots of the main pages (named in the README).
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Where downloads land.
    pub downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
            "the console's tests need Debian's chromium and chromium-driver: apt-get install chromium chromium-driver (.ci/run does)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let downloads = tempfile::tempdir().expect("download folder");
        let profile = tempfile::tempdir().expect("profile folder");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                // Without the background-networking flags Chromium keeps
                // trying hosts this closed network refuses.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display())],
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                    "intl.accept_languages": "zh-CN,zh",
                },
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        driver,
                        downloads,
                        _profile: profile,
                    }
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no WebDriver session: {last:?}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The text of the first element matching the CSS selector, waiting for it.
    pub async fn text(&self, css: &str) -> String {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .text()
            .await
            .expect("text")
    }

    pub async fn attr(&self, css: &str, name: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .attr(name)
            .await
            .expect("attribute")
            .unwrap_or_else(|| panic!("{css} has no {name}"))
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("find")
            .len()
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no field {css}: {e}"));
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    /// Sets a field through the page, for inputs (dates, selects) whose
    /// typing differs between browsers.
    pub async fn set(&self, css: &str, value: &str) {
        self.client
            .execute(
                "const e = document.querySelector(arguments[0]); e.value = arguments[1];",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("set {css}: {e}"));
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("nothing to click at {css}: {e}"))
            .click()
            .await
            .expect("click");
    }

    /// Clicks what leads to another page and waits until that page is
    /// there (the old one's root element has gone stale).
    pub async fn follow(&self, css: &str) {
        let old = self
            .client
            .find(Locator::Css("html"))
            .await
            .expect("a page");
        self.click(css).await;
        for _ in 0..200 {
            if old.tag_name().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} led nowhere");
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png)
            .expect("write screenshot");
    }

    /// Waits for a finished download whose name ends with `suffix`.
    /// Chromium may put a file under its final name before it has written
    /// it (the name reserved while the bytes go to a `.crdownload`), so a
    /// download counts as finished once no `.crdownload` is left and its
    /// size, not zero, has stayed the same over two looks.
    pub async fn downloaded(&self, suffix: &str) -> PathBuf {
        let mut last_seen: Option<(PathBuf, u64)> = None;
        for _ in 0..200 {
            let names: Vec<PathBuf> = std::fs::read_dir(self.downloads.path())
                .map(|entries| entries.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            let in_progress = names
                .iter()
                .any(|p| p.to_string_lossy().ends_with(".crdownload"));
            let found = names
                .into_iter()
                .find(|p| p.to_string_lossy().ends_with(suffix));
            let seen = found.and_then(|path| {
                let len = std::fs::metadata(&path).map(|m| m.len()).ok()?;
                Some((path, len))
            });
            if let (Some(now), Some(before)) = (&seen, &last_seen) {
                if !in_progress && now.1 > 0 && now == before {
                    return now.0.clone();
                }
            }
            last_seen = seen;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no finished download ending in {suffix} in {} (last seen: {last_seen:?})",
            self.downloads.path().display()
        );
    }

    pub async fn stop(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
