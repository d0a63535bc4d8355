// Package browsertest drives a real headless Chromium (Debian's chromium
// package) from Go tests through chromedp, and keeps screenshots as test
// artifacts.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ArtifactsEnv names the directory screenshots are saved in (default: a
// directory under the test's temporary directory, logged).
const ArtifactsEnv = "EDDY_ARTIFACTS"

// Browser is a headless Chromium tab for one test.
type Browser struct {
	t   testing.TB
	Ctx context.Context
	dir string
}

// chromium finds the browser binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a fresh headless Chromium (its own profile directory) with a
// window of width×height, closed when the test ends. Without a browser the
// test is skipped, unless CI is set, where that is a failure.
func New(t testing.TB, width, height int) *Browser {
	t.Helper()
	path := chromium()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (see .ci/install-browser.sh)")
		}
		t.Skip("chromium is not installed; apt-get install chromium to run the browser tests")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(func(string, ...any) {}))
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	b := &Browser{t: t, Ctx: ctx}
	// Start the browser now, so a failure to launch is reported as such.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b.dir = os.Getenv(ArtifactsEnv)
	if b.dir == "" {
		b.dir = filepath.Join(t.TempDir(), "screenshots")
	}
	return b
}

// Do runs chromedp actions with a timeout, failing the test on error.
func (b *Browser) Do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.Screenshot("failed")
		b.t.Fatalf("browser: %v", err)
	}
}

// Open navigates to url.
func (b *Browser) Open(url string) {
	b.t.Helper()
	b.Do(30*time.Second, chromedp.Navigate(url))
}

// WaitFor polls the JavaScript expression until it is true.
func (b *Browser) WaitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		page, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.body.innerText`))
		b.Screenshot("failed-" + what)
		b.t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, expr, err, page)
	}
}

// Eval evaluates expr and decodes its value into T.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// Screenshot saves a full-page PNG named after the test and name, and logs
// where.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	file := filepath.Join(b.dir, strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name()+"-"+name)+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", file)
	return file
}
