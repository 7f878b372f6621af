package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
)

var browserShots = flag.String("browser.shots", "", "keep TestBrowser's screenshots in `dir` (default: a temporary directory removed after the test)")

const (
	browserHost = "icp.example.test"
	browserICP  = "京ICP备12345678号-1"
	browserMIIT = "https://beian.miit.gov.cn/"

	// centreSlack is how far, in CSS px, the notice's text may sit from
	// the viewport's centre line: rounding of glyph advances, not layout.
	centreSlack = 4
	// bottomSlack is how far, in CSS px, the page's own content may reach
	// below the notice: one short line, no more.
	bottomSlack = 32
	// minFontSize is the smallest legible notice, in CSS px.
	minFontSize = 10
)

// browserPage is one origin page the browser visits through the edge.
type browserPage struct {
	name string
	// file is under testdata/browser; the test serves it as is, except
	// for the placeholders fillPage expands and gbk and utf16 pages it
	// encodes.
	file        string
	contentType string
	gbk         bool
	// utf16 pages are served as UTF-16LE with a byte order mark.
	utf16 bool
	// undeclared pages name no charset anywhere, so the browser reads
	// them in its default encoding; it must not be told UTF-8.
	undeclared bool
	// text is a sentence of the page's own that must read correctly.
	text string
	// long pages must be at least two viewports tall, so that "after
	// scrolling to the bottom" means something.
	long bool
}

var browserPages = []browserPage{
	{name: "long page with a tall footer", file: "long.html", contentType: "text/html; charset=utf-8", text: "示例科技有限公司为企业客户提供云端部署、数据分析与运维服务。", long: true},
	{name: "no footer", file: "bare.html", contentType: "text/html; charset=utf-8", text: "All systems operational"},
	{name: "hostile css", file: "hostile.html", contentType: "text/html; charset=utf-8", text: "tries hard to hide"},
	{name: "gbk with meta charset only", file: "gbk.html", contentType: "text/html", gbk: true, text: "欢迎访问示例科技有限公司的官方网站，我们专注于企业软件服务。"},
	// The commonest footer layout today: the notice must not become a
	// third flex item in the right-hand corner.
	{name: "flex footer", file: "flexfooter.html", contentType: "text/html; charset=utf-8", text: "Simple plans for teams"},
	// An absolutely positioned old footer that paints over the end of
	// <body>, where the notice goes: the notice must stay on top.
	{name: "utf-16 page", file: "utf16.html", contentType: "text/html", utf16: true, text: "这个页面以 UTF-16 编码保存，由旧的内容管理系统导出。"},
	// No charset anywhere and a UTF-8 ’ near the top: read in the
	// browser's default encoding, with the notice written for any.
	{name: "undeclared charset", file: "undeclared.html", contentType: "text/html", undeclared: true, text: "An old page that never says which encoding it uses."},
	{name: "positioned footer over the end of the body", file: "overlap.html", contentType: "text/html; charset=utf-8", text: "pins its copyright line"},
}

// browserViewports are the window sizes every page is checked at: a
// desktop and a phone, where the notice wraps onto several lines.
var browserViewports = []struct {
	name          string
	width, height int64
	opts          []chromedp.EmulateViewportOption
}{
	{"desktop", 1280, 800, nil},
	{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateTouch}},
}

// TestBrowser loads pages through the real binary in a real headless
// Chromium and checks what a visitor sees: the ICP notice exactly once,
// legible, inside the viewport once scrolled to the bottom, and centred.
// Chinese rules require the filing number at the bottom centre of every
// page; only a browser can say whether the page's own CSS defeated it.
func TestBrowser(t *testing.T) {
	chromium := chromiumPath(t)

	origin := httptest.NewServer(browserOrigin(t))
	t.Cleanup(origin.Close)
	e := startEdge(t, writeConfig(t, fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: 127.0.0.1:0
state_dir: %s
notice:
  icp: %s
  company: 示例科技有限公司
  police: 京公网安备11010502012345号
admin:
  listen: ""
`, browserHost, origin.URL, t.TempDir(), browserICP)))
	base := "http://" + net.JoinHostPort(browserHost, portOf(e.Addr("http")))

	shots := *browserShots
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// The edge only serves its configured host, so the browser must send
	// Host: icp.example.test, as it would after a DNS lookup.
	tab := startChromium(t, chromium, 15*time.Minute, // a bound for a wedged browser, not a speed target
		chromedp.Flag("host-resolver-rules", "MAP "+browserHost+" 127.0.0.1"),
		chromedp.WindowSize(1280, 800))

	for _, vp := range browserViewports {
		for _, p := range browserPages {
			t.Run(vp.name+"/"+p.name, func(t *testing.T) {
				sctx, cancel := context.WithTimeout(tab, 3*time.Minute)
				defer cancel()
				if err := chromedp.Do(sctx, chromedp.EmulateViewport(vp.width, vp.height, vp.opts...)); err != nil {
					t.Fatalf("setting the viewport: %v", err)
				}
				url := base + "/" + p.file
				resp, err := chromedp.Run(sctx, chromedp.NavigateResponse(url))
				if err != nil {
					t.Fatalf("loading %s: %v", url, err)
				}
				if resp.Status != http.StatusOK {
					t.Fatalf("loading %s: got status %d; want 200", url, resp.Status)
				}
				got, err := chromedp.Run(sctx, chromedp.Evaluate[noticeProbe](probeScript))
				if err != nil {
					t.Fatalf("probing the page: %v", err)
				}
				shot := filepath.Join(shots, vp.name+"-"+strings.TrimSuffix(p.file, ".html")+".png")
				if png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot()); err != nil {
					t.Errorf("screenshot: %v", err)
				} else if err := os.WriteFile(shot, png, 0o644); err != nil {
					t.Error(err)
				} else {
					t.Logf("screenshot of the bottom of the page: %s", shot)
				}
				checkNotice(t, p, got)
			})
		}
	}
}

// noticeProbe is what probeScript reports, in CSS px.
type noticeProbe struct {
	Charset  string `json:"charset"`
	BodyText string `json:"bodyText"`
	Links    int    `json:"links"`   // a[href=MIIT]
	Notices  int    `json:"notices"` // #icpedge-notice
	InNotice bool   `json:"inNotice"`
	LinkText string `json:"linkText"`

	ViewW float64 `json:"viewW"`
	ViewH float64 `json:"viewH"`
	DocH  float64 `json:"docH"`

	Link  boxStyle `json:"link"`
	Block boxStyle `json:"block"` // the notice, or the link's parent
	// Text is the union of the block's lines of text.
	Text rect `json:"text"`
	// HitLink says whether hit-testing finds the link at the centre of
	// each of its boxes, i.e. nothing covers or clips it; Hit is what it
	// found instead.
	HitLink bool   `json:"hitLink"`
	Hit     string `json:"hit"`
	// HitBlock says whether hit-testing at the centre of the notice
	// finds the notice or something in it, i.e. it is on top there;
	// HitBlockAt is what it found instead.
	HitBlock   bool   `json:"hitBlock"`
	HitBlockAt string `json:"hitBlockAt"`
	// BgAlpha is the alpha of the notice's own background colour.
	Background string  `json:"background"`
	BgAlpha    float64 `json:"bgAlpha"`
	// Below is how far the lowest element of the page's own, Lowest,
	// reaches below the notice (negative when none does).
	Below  float64 `json:"below"`
	Lowest string  `json:"lowest"`
}

type boxStyle struct {
	Rect       rect    `json:"rect"`
	Boxes      int     `json:"boxes"` // getClientRects().length
	Display    string  `json:"display"`
	Visibility string  `json:"visibility"`
	Opacity    float64 `json:"opacity"` // the product of its own and its ancestors'
	FontSize   float64 `json:"fontSize"`
	Color      string  `json:"color"`
	ColorAlpha float64 `json:"colorAlpha"`
}

type rect struct {
	Left   float64 `json:"left"`
	Top    float64 `json:"top"`
	Right  float64 `json:"right"`
	Bottom float64 `json:"bottom"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

func (r rect) String() string {
	return fmt.Sprintf("[x %.1f–%.1f, y %.1f–%.1f]", r.Left, r.Right, r.Top, r.Bottom)
}

// probeScript scrolls to the bottom of the page and measures the notice.
// The scroll is instant: pages with "scroll-behavior: smooth" would
// otherwise still be moving when the script measures.
var probeScript = `(() => {
	const miit = ` + jsString(browserMIIT) + `;
	window.scrollTo({left: 0, top: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight), behavior: "instant"});
	const r = {
		charset: document.characterSet,
		bodyText: document.body.innerText,
		viewW: window.innerWidth,
		viewH: window.innerHeight,
		docH: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
	};
	const links = [...document.querySelectorAll("a")].filter(a => a.getAttribute("href") === miit);
	const notices = document.querySelectorAll("#icpedge-notice");
	r.links = links.length;
	r.notices = notices.length;
	if (links.length !== 1) return r;
	const a = links[0];
	const block = a.closest("#icpedge-notice") || a.parentElement;
	r.inNotice = notices.length === 0 || notices[0].contains(a);
	r.linkText = a.textContent;
	const rectOf = b => ({left: b.left, top: b.top, right: b.right, bottom: b.bottom, width: b.width, height: b.height});
	const alpha = c => {
		const m = /^rgba?\(([^)]*)\)$/.exec(c);
		if (!m) return 1;
		const parts = m[1].split(/[\s,\/]+/).filter(Boolean);
		return parts.length === 4 ? parseFloat(parts[3]) : 1;
	};
	const box = el => {
		const cs = getComputedStyle(el);
		let opacity = 1;
		for (let e = el; e; e = e.parentElement) opacity *= parseFloat(getComputedStyle(e).opacity);
		return {
			rect: rectOf(el.getBoundingClientRect()),
			boxes: el.getClientRects().length,
			display: cs.display,
			visibility: cs.visibility,
			opacity: opacity,
			fontSize: parseFloat(cs.fontSize),
			color: cs.color,
			colorAlpha: alpha(cs.color),
		};
	};
	r.link = box(a);
	r.block = box(block);
	const range = document.createRange();
	range.selectNodeContents(block);
	r.text = rectOf(range.getBoundingClientRect());
	const describe = el => el ? el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
		(el.className ? "." + String(el.className).trim().split(/\s+/).join(".") : "") : "nothing";
	r.hitLink = true;
	for (const b of a.getClientRects()) {
		const hit = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
		if (!hit || !a.contains(hit)) {
			r.hitLink = false;
			r.hit = describe(hit);
			break;
		}
	}
	if (notices.length === 1) {
		const n = notices[0], b = n.getBoundingClientRect();
		const hit = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
		r.hitBlock = !!hit && n.contains(hit);
		r.hitBlockAt = describe(hit);
		r.background = getComputedStyle(n).backgroundColor;
		r.bgAlpha = alpha(r.background);
	}
	// The page's own content may not continue below the notice: only
	// its containers' padding and margins may.
	let lowest = -Infinity;
	for (const el of document.body.querySelectorAll("*")) {
		if (block.contains(el) || el.contains(block)) continue;
		const cs = getComputedStyle(el);
		if (cs.position === "fixed" || cs.visibility !== "visible") continue;
		const b = el.getBoundingClientRect();
		if (b.width === 0 || b.height === 0 || b.bottom <= lowest) continue;
		lowest = b.bottom;
		r.lowest = describe(el);
	}
	r.below = lowest - block.getBoundingClientRect().bottom;
	return r;
})()`

func checkNotice(t *testing.T, p browserPage, got noticeProbe) {
	t.Helper()
	if p.gbk && !strings.EqualFold(got.Charset, "GBK") {
		t.Errorf("document.characterSet: got %q; want GBK", got.Charset)
	}
	if p.utf16 && !strings.EqualFold(got.Charset, "UTF-16LE") {
		t.Errorf("document.characterSet: got %q; want UTF-16LE", got.Charset)
	}
	if p.undeclared && strings.EqualFold(got.Charset, "UTF-8") {
		t.Errorf("document.characterSet: got %q; want the browser's default (the edge must not declare a charset the origin did not)", got.Charset)
	}
	if !strings.Contains(got.BodyText, p.text) {
		t.Errorf("page text: got %q; want it to contain %q", abbrev(got.BodyText), p.text)
	}
	if p.long && got.DocH < 2*got.ViewH {
		t.Errorf("page height: got %.0f; want at least two viewports (%.0f)", got.DocH, 2*got.ViewH)
	}
	if got.Links != 1 || got.Notices > 1 {
		t.Fatalf("notice: got %d links to %s and %d #icpedge-notice; want exactly one link, in at most one notice", got.Links, browserMIIT, got.Notices)
	}
	if !got.InNotice {
		t.Errorf("the MIIT link is outside #icpedge-notice")
	}
	if got.LinkText != browserICP {
		t.Errorf("link text: got %q; want %q", got.LinkText, browserICP)
	}
	for _, b := range []struct {
		what string
		box  boxStyle
	}{{"link", got.Link}, {"notice", got.Block}} {
		s := b.box
		if s.Display == "none" || s.Visibility != "visible" || s.Boxes == 0 || s.Rect.Width <= 0 || s.Rect.Height <= 0 {
			t.Errorf("%s: got display %q, visibility %q, %d boxes, rect %v; want it rendered and visible", b.what, s.Display, s.Visibility, s.Boxes, s.Rect)
		}
		if s.Opacity < 0.99 {
			t.Errorf("%s: got opacity %g (with its ancestors'); want 1", b.what, s.Opacity)
		}
		if s.FontSize < minFontSize {
			t.Errorf("%s: got font-size %gpx; want at least %dpx", b.what, s.FontSize, minFontSize)
		}
		if s.ColorAlpha < 0.5 {
			t.Errorf("%s: got color %s; want an opaque colour", b.what, s.Color)
		}
	}
	l := got.Link.Rect
	if l.Left < 0 || l.Top < 0 || l.Right > got.ViewW || l.Bottom > got.ViewH {
		t.Errorf("link after scrolling to the bottom: got rect %v; want it inside the %gx%g viewport", l, got.ViewW, got.ViewH)
	}
	if got.Link.Boxes > 1 {
		t.Errorf("link: got the number broken over %d lines; want it on one", got.Link.Boxes)
	}
	if !got.HitLink {
		t.Errorf("hit test on the link: got %s; want the link (something covers or clips it)", got.Hit)
	}
	if got.Notices == 1 {
		if !got.HitBlock {
			t.Errorf("hit test at the notice's centre: got %s; want the notice or something in it (the page paints over it)", got.HitBlockAt)
		}
		if got.BgAlpha < 1 {
			t.Errorf("notice background: got %s; want an opaque colour, so that nothing shows through", got.Background)
		}
	}
	if got.Below > bottomSlack {
		t.Errorf("notice: got %s reaching %.0fpx below it; want at most %dpx (the notice must be the last thing on the page)", got.Lowest, got.Below, bottomSlack)
	}
	centre := (got.Text.Left + got.Text.Right) / 2
	if math.Abs(centre-got.ViewW/2) > centreSlack {
		t.Errorf("notice text: got rect %v, centred at x=%.1f; want centred at x=%.1f (±%d)", got.Text, centre, got.ViewW/2, centreSlack)
	}
}

// browserOrigin serves the pages under testdata/browser.
func browserOrigin(t *testing.T) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	for _, p := range browserPages {
		src, err := os.ReadFile(filepath.Join("testdata", "browser", p.file))
		if err != nil {
			t.Fatal(err)
		}
		body := fillPage(src)
		switch {
		case p.gbk:
			if body, err = simplifiedchinese.GBK.NewEncoder().Bytes(body); err != nil {
				t.Fatalf("encoding %s as GBK: %v", p.file, err)
			}
		case p.utf16:
			if body, err = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes(body); err != nil {
				t.Fatalf("encoding %s as UTF-16: %v", p.file, err)
			}
		}
		mux.HandleFunc("GET /"+p.file, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", p.contentType)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		})
	}
	return mux
}

// fillPage expands the long page's placeholders into enough article and
// footer to be several screens tall, as a real product page is, and the
// undeclared page's into 30 KB of text.
func fillPage(src []byte) []byte {
	var article, sitemap bytes.Buffer
	for i := 1; i <= 24; i++ {
		fmt.Fprintf(&article, "<h2>第%d节 · Section %d</h2>\n<p>示例科技有限公司为企业客户提供云端部署、数据分析与运维服务。"+
			"Our platform keeps your services fast and available for visitors across the mainland and overseas, "+
			"with monitoring, backups and support around the clock.</p>\n", i, i)
	}
	for c, heading := range []string{"产品", "解决方案", "支持", "公司"} {
		fmt.Fprintf(&sitemap, "<ul><li><strong>%s</strong></li>\n", heading)
		for i := 1; i <= 12; i++ {
			fmt.Fprintf(&sitemap, "<li><a href=\"/s/%d/%d\">%s %d</a></li>\n", c, i, heading, i)
		}
		sitemap.WriteString("</ul>\n")
	}
	src = bytes.Replace(src, []byte("<!--article-->"), article.Bytes(), 1)
	src = bytes.Replace(src, []byte("<!--sitemap-->"), sitemap.Bytes(), 1)
	// The undeclared page: 30 KB of plain ASCII after its title.
	var paras bytes.Buffer
	for i := 1; paras.Len() < 30<<10; i++ {
		fmt.Fprintf(&paras, "<p>Item %d of the archive, kept as it was written years ago.</p>\n", i)
	}
	return bytes.Replace(src, []byte("<!--paragraphs-->"), paras.Bytes(), 1)
}

// chromiumPath finds Debian's chromium. Under CI a missing browser fails
// the test, so that the check cannot silently stop running.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	const msg = "chromium not found; install it with: apt-get install -y chromium"
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// lockedBuffer collects Chromium's output, which arrives on chromedp's
// goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startChromium starts a headless Chromium at path with the options every
// test needs and extra ones of its own, and returns its first tab, which
// lives until the test ends or limit has passed (a bound for a wedged
// browser, not a speed target). Its output is logged if the test fails.
func startChromium(t *testing.T, path string, limit time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	var out lockedBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// Test machines have no way out: without these Chromium keeps
		// reaching for its update, sync and QUIC endpoints and misbehaves.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.CombinedOutput(&out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(opts, extra...)...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium output (tail):\n%s", tail(out.String(), 4<<10))
		}
	})
	// Start the browser on the tab's own context: a browser started by a
	// step's shorter-lived context would die with it.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return tab
}
