//! A small WebDriver client, to test a page in a real browser: headless Chromium, driven by
//! ChromeDriver over the W3C WebDriver protocol (JSON over HTTP, here with ureq). Only what
//! the ring page's test needs: open a page, run a script in it, find an element, type into
//! it, click it, take a screenshot. Debian's packages `chromium` and `chromium-driver` put the
//! two programs in /usr/bin; `CHROMIUM` and `CHROMEDRIVER` name others.

use base64::Engine;
use ringcore::testing::{poll_until, poll_within};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The name WebDriver gives an element's id in its answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a WebDriver call may take: starting a browser on a loaded machine is the slowest.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string())
}

fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_string())
}

/// A ChromeDriver process, on a free port of 127.0.0.1, killed when dropped.
pub struct ChromeDriver {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl ChromeDriver {
    /// Starts ChromeDriver and waits until it says it is ready. The port is one the system
    /// gave a moment ago; should another program take it meanwhile, ChromeDriver exits and
    /// is started again on another.
    pub fn start() -> ChromeDriver {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .into();
        poll_until("ChromeDriver is ready", Duration::from_secs(60), || {
            let port = free_port();
            let mut child = Command::new(chromedriver())
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{} runs: {e}", chromedriver()));
            let url = format!("http://127.0.0.1:{port}");
            let ready = poll_within(Duration::from_secs(20), || {
                if let Ok(Some(status)) = child.try_wait() {
                    return Ok(Err(format!("ChromeDriver exited: {status}")));
                }
                let status = agent
                    .get(format!("{url}/status"))
                    .call()
                    .map_err(|e| e.to_string())?;
                let body = status
                    .into_body()
                    .read_to_string()
                    .map_err(|e| e.to_string())?;
                let body: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                match body["value"]["ready"].as_bool() {
                    Some(true) => Ok(Ok(())),
                    _ => Err(format!("not ready: {body}")),
                }
            });
            match ready {
                Ok(Ok(())) => Ok(ChromeDriver {
                    child,
                    url: url.clone(),
                    agent: agent.clone(),
                }),
                Ok(Err(why)) | Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    Err(why)
                }
            }
        })
    }

    /// A new headless Chromium, its window `width` × `height`, with a profile of its own
    /// that is removed with the session.
    pub fn session(&self, width: u32, height: u32) -> Session {
        let profile = tempfile::tempdir().expect("a profile directory");
        let args = [
            "--headless".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium(), "args": args},
        }}});
        let answer = call(
            &self.agent,
            "POST",
            &format!("{}/session", self.url),
            Some(capabilities),
        );
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a new session: {answer}"))
            .to_string();
        Session {
            url: format!("{}/session/{id}", self.url),
            agent: self.agent.clone(),
            _profile: profile,
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port the system had free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

/// One call: its answer's `value`, or a panic saying what WebDriver answered.
fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Value {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(body.map(|b| b.to_string()).unwrap_or_default())
        .unwrap();
    let response = agent
        .run(request)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .into_body()
        .read_to_string()
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let answer: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {text}"));
    assert_eq!(status, 200, "{method} {url}: {answer}");
    answer["value"].clone()
}

/// A browser window, closed when dropped.
pub struct Session {
    url: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Session {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(&self.agent, method, &format!("{}{path}", self.url), body)
    }

    /// Opens `url` and waits until it has loaded.
    pub fn open(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// Runs `script` (the body of a function) in the page; what it returns.
    pub fn run(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// The element `css` selects (the first one).
    pub fn find(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Types `text` into an element, as a person would.
    pub fn type_into(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        );
    }

    pub fn click(&self, element: &str) {
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    /// Saves what the window shows as a PNG file.
    pub fn screenshot(&self, path: &Path) {
        let png = self.call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("a screenshot in base64"))
            .expect("valid base64");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.url).call();
    }
}
