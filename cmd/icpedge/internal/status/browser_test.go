package status

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
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
)

var update = flag.Bool("update", false, "write TestBrowser's screenshots to testdata/ (the README shows them)")

// browserProbe is what probeScript reports about the page, in CSS px.
type browserProbe struct {
	Sites       int     `json:"sites"`
	FailColor   string  `json:"failColor"`
	FailText    string  `json:"failText"`
	FailRow     string  `json:"failRow"`
	OKColor     string  `json:"okColor"`
	FailX       float64 `json:"failX"`
	FailY       float64 `json:"failY"`
	FailW       float64 `json:"failW"`
	FailH       float64 `json:"failH"`
	DPR         float64 `json:"dpr"`
	InnerWidth  int     `json:"innerWidth"`
	ScrollWidth int     `json:"scrollWidth"`
	Refresh     string  `json:"refresh"`
}

// probeScript finds the failing check's badge that is shown (the phone
// layout shows it beside the name, the desktop in its own column) and
// reports how it is painted and where, page-relative.
const probeScript = `(() => {
  const shown = el => el.getClientRects().length > 0;
  const pick = sel => [...document.querySelectorAll(sel)].find(shown);
  const fail = pick('tr.check[data-check="notice"] .badge');
  const ok = pick('tr.check[data-check="reachable"] .badge');
  const r = fail.getBoundingClientRect();
  return {
    sites: document.querySelectorAll('section.site').length,
    failColor: getComputedStyle(fail).backgroundColor,
    failText: fail.textContent,
    failRow: fail.closest('tr').className,
    okColor: getComputedStyle(ok).backgroundColor,
    failX: r.left + scrollX, failY: r.top + scrollY, failW: r.width, failH: r.height,
    dpr: devicePixelRatio,
    innerWidth: innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    refresh: document.querySelector('meta[http-equiv="refresh"]').content,
  };
})()`

// TestBrowser signs in to the page in Debian's Chromium as a person would,
// at a desktop's and a phone's width, and checks what they see: the
// failing check painted red, a passing one green, the phone layout
// without sideways scrolling. It keeps a screenshot of each.
func TestBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	c := newClock()
	h := New(Options{
		Token: testToken,
		Data:  func() Page { return samplePage(c.Now()) },
		Now:   c.Now,
		// Long enough that the page does not reload under the probe.
		Refresh: 10 * time.Minute,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	shots := t.TempDir()
	if *update {
		shots = "testdata"
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a bound for a wedged browser, not a speed target
	defer cancel()
	var out lockedBuffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// Test machines have no way out: without these Chromium keeps
		// reaching for its update, sync and QUIC endpoints.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(&out),
	)...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium output (tail):\n%s", tailString(out.String(), 4<<10))
		}
	})
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}

	for i, vp := range []struct {
		width, height int64
		opts          []chromedp.EmulateViewportOption
	}{
		{1280, 800, nil},
		{390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateTouch, chromedp.EmulateScale(2)}},
	} {
		t.Run(strconv.FormatInt(vp.width, 10)+"px", func(t *testing.T) {
			sctx, cancel := context.WithTimeout(tab, 2*time.Minute)
			defer cancel()
			if err := chromedp.Do(sctx, chromedp.EmulateViewport(vp.width, vp.height, vp.opts...)); err != nil {
				t.Fatalf("setting the viewport: %v", err)
			}
			resp, err := chromedp.Run(sctx, chromedp.NavigateResponse(srv.URL+"/"))
			if err != nil {
				t.Fatalf("loading the page: %v", err)
			}
			if i == 0 {
				// First visit: the form. Paste the token and sign in.
				if resp.Status != http.StatusUnauthorized {
					t.Fatalf("first visit: status %d; want 401 and the form", resp.Status)
				}
				if err := chromedp.Do(sctx,
					chromedp.SetValue(chromedp.ID("token"), testToken),
					chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
					chromedp.WaitVisible(chromedp.CSS("section.site")),
				); err != nil {
					t.Fatalf("signing in: %v", err)
				}
			} else if resp.Status != http.StatusOK {
				// Afterwards the cookie the form set lets the browser in.
				t.Fatalf("second visit: status %d; want 200 with the cookie", resp.Status)
			}

			got, err := chromedp.Run(sctx, chromedp.Evaluate[browserProbe](probeScript))
			if err != nil {
				t.Fatalf("probing the page: %v", err)
			}
			shot, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			name := filepath.Join(shots, fmt.Sprintf("status-%d.png", vp.width))
			if err := os.WriteFile(name, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", name)

			if got.Sites != 2 {
				t.Errorf("%d sites shown; want 2", got.Sites)
			}
			if got.InnerWidth != int(vp.width) {
				t.Errorf("layout viewport %d px; want %d (is the viewport meta there?)", got.InnerWidth, vp.width)
			}
			if got.ScrollWidth > got.InnerWidth {
				t.Errorf("page is %d px wide in a %d px viewport: it scrolls sideways", got.ScrollWidth, got.InnerWidth)
			}
			if got.Refresh != "600" {
				t.Errorf("meta refresh %q; want 600", got.Refresh)
			}
			if !strings.Contains(got.FailRow, "fail") || !strings.Contains(got.FailText, "fail") {
				t.Errorf("failing check's row %q, badge %q; want both to say fail", got.FailRow, got.FailText)
			}
			if r, g, b, ok := parseRGB(got.FailColor); !ok || !isRed(r, g, b) {
				t.Errorf("failing check's badge is %s; want red", got.FailColor)
			}
			if r, g, b, ok := parseRGB(got.OKColor); !ok || !isGreen(r, g, b) {
				t.Errorf("passing check's badge is %s; want green", got.OKColor)
			}
			// The computed style could be red on an element that is
			// covered or off the page: the screenshot must be red there
			// too. Sample the badge's left padding, clear of its text.
			img, err := png.Decode(bytes.NewReader(shot))
			if err != nil {
				t.Fatalf("decoding the screenshot: %v", err)
			}
			x, y := int((got.FailX+2)*got.DPR), int((got.FailY+got.FailH/2)*got.DPR)
			if !image.Pt(x, y).In(img.Bounds()) {
				t.Fatalf("badge at (%d, %d) is outside the %v screenshot", x, y, img.Bounds())
			}
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if !isRed(int(pr>>8), int(pg>>8), int(pb>>8)) {
				t.Errorf("screenshot pixel at the failing badge (%d, %d) is rgb(%d, %d, %d); want red", x, y, pr>>8, pg>>8, pb>>8)
			}
		})
	}
}

func parseRGB(s string) (r, g, b int, ok bool) {
	if _, err := fmt.Sscanf(s, "rgb(%d, %d, %d)", &r, &g, &b); err != nil {
		return 0, 0, 0, false
	}
	return r, g, b, true
}

func isRed(r, g, b int) bool   { return r >= 150 && g <= 90 && b <= 90 }
func isGreen(r, g, b int) bool { return g >= 100 && g >= r+40 && g >= b+40 }

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

// lockedBuffer collects Chromium's output, written from another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
