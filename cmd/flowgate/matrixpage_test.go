package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

// chromium finds Debian's Chromium (apt-get install chromium; .ci/deps
// installs it). Without it the browser tests skip, or fail under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed and CI=true (apt-get install chromium)")
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// browser is one headless Chromium with a fresh profile, no network
// services of its own, and the page's console errors, warnings and
// uncaught exceptions collected.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1200),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// load opens a page written to a file and waits for the grid.
func (b *browser) load(t *testing.T, html string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "matrix.html")
	if err := os.WriteFile(path, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.ID("grid"))); err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
}

// consoleErrors returns what the page logged as errors so far.
func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// text returns the text of the element with id.
func (b *browser) text(t *testing.T, id string) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("#%s: %v", id, err)
	}
	return s
}

// screenshot captures the page, checks it is a PNG with pixels, and keeps
// it in the test's directory (FLOWGATE_SCREENSHOTS=DIR keeps a copy).
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil || img.Bounds().Dx() < 100 || img.Bounds().Dy() < 100 {
		t.Fatalf("screenshot is no usable PNG (%v)", err)
	}
	dir := t.TempDir()
	if d := os.Getenv("FLOWGATE_SCREENSHOTS"); d != "" {
		dir = d
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%dx%d)", path, img.Bounds().Dx(), img.Bounds().Dy())
}

// clickCell clicks the drawn cell from -> to with the mouse, as a person
// would, and returns the details panel's text; ok is false when the cell
// is not drawn (filtered out).
func (b *browser) clickCell(t *testing.T, from, to string) (string, bool) {
	t.Helper()
	js := fmt.Sprintf("window.flowgateMatrix.cellCenter(%q, %q)", from, to)
	at, err := chromedp.Run(b.ctx, chromedp.Evaluate[*struct{ X, Y float64 }](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	if at == nil {
		return "", false
	}
	if err := chromedp.Do(b.ctx, chromedp.MouseClickXY(at.X, at.Y)); err != nil {
		t.Fatalf("click %s -> %s: %v", from, to, err)
	}
	return b.text(t, "details"), true
}

func (b *browser) noConsoleErrors(t *testing.T) {
	t.Helper()
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestMatrixPageInBrowser: the matrix page loads in real headless
// Chromium with no console error, a screenshot is taken, clicking a cell
// shows the policy that decided each side, and the namespace and port
// filters hide and switch what is drawn.
func TestMatrixPageInBrowser(t *testing.T) {
	r := run(t, "matrix", "-f", seedDB, "--ports", "8080,80", "-o", "html")
	if r.code != 0 {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	if strings.Contains(r.stdout, "http://") || strings.Contains(r.stdout, "https://") {
		t.Error("the page refers to the network")
	}
	b := newBrowser(t)
	b.load(t, r.stdout)
	b.screenshot(t, "matrix")
	text, ok := b.clickCell(t, "prod/backend", "prod/database")
	for _, want := range []string{"prod/backend → prod/database tcp/8080", "allowed",
		"egress of prod/backend allowed: default allow (no policy decided)",
		"ingress of prod/database allowed: default/prod/knp.default.database-allow-backends ingress[0] Allow"} {
		if !ok || !strings.Contains(text, want) {
			t.Errorf("clicked prod/backend -> prod/database: details %q lack %q", text, want)
		}
	}
	text, _ = b.clickCell(t, "dev/frontend", "prod/database")
	if !strings.Contains(text, "denied") || !strings.Contains(text, "ingress of prod/database denied: tier default: no policy decided (end of tier)") {
		t.Errorf("clicked dev/frontend -> prod/database: details %q", text)
	}
	// Port filter: tcp/80 is not covered by the policy's rule.
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.ID("service"), "1"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.getElementById("service").dispatchEvent(new Event("change"))`)(ctx, tg)
			return err
		})); err != nil {
		t.Fatal(err)
	}
	text, _ = b.clickCell(t, "prod/backend", "prod/database")
	if !strings.Contains(text, "tcp/80") || !strings.Contains(text, "denied") {
		t.Errorf("port filter tcp/80: details %q", text)
	}
	// Namespace filter: unticking dev removes its rows and columns.
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`#namespaces input[value="dev"]`))); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.clickCell(t, "dev/frontend", "prod/database"); ok {
		t.Error("dev unticked, but dev/frontend is still drawn")
	}
	if _, ok := b.clickCell(t, "prod/backend", "prod/database"); !ok {
		t.Error("dev unticked, and prod/backend is gone too")
	}
	b.noConsoleErrors(t)
}

// TestDiffPageInBrowser: the diff page of the AND/OR trap marks the one
// opened cell, and clicking it shows the rule that opens it and what
// decided before.
func TestDiffPageInBrowser(t *testing.T) {
	r := run(t, "diff", "--before", seedDB, "--after", seedDBTrap, "--ports", "8080", "-o", "html")
	if r.code != 3 {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	b := newBrowser(t)
	b.load(t, r.stdout)
	summary := b.text(t, "summary")
	if !strings.Contains(summary, "1 opened, 0 closed") {
		t.Errorf("summary %q", summary)
	}
	text, ok := b.clickCell(t, "dev/frontend", "prod/database")
	for _, want := range []string{"opened by the change",
		"after: ● allowed", "ingress of prod/database allowed: default/prod/knp.default.database-allow-backends ingress[0] Allow",
		"before: ✕ denied", "ingress of prod/database denied: tier default: no policy decided (end of tier)"} {
		if !ok || !strings.Contains(text, want) {
			t.Errorf("clicked the opened cell: details %q lack %q", text, want)
		}
	}
	b.screenshot(t, "diff")
	text, _ = b.clickCell(t, "staging/backend", "prod/database")
	if strings.Contains(text, "opened") || strings.Contains(text, "closed") {
		t.Errorf("an unchanged cell is marked: %q", text)
	}
	b.noConsoleErrors(t)
}

// TestMatrixPageAt500Endpoints: a generated world of 500 pods makes a
// page that loads without errors, draws every endpoint and still answers a
// click.
func TestMatrixPageAt500Endpoints(t *testing.T) {
	g := evaltest.Generate(3, 500, 60)
	world := writeFile(t, t.TempDir(), "world.yaml", g.YAML)
	r := run(t, "matrix", "-f", world, "--ports", "80,5432", "-o", "html")
	if r.code != 0 {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	t.Logf("page: %d bytes", len(r.stdout))
	b := newBrowser(t)
	b.load(t, r.stdout)
	summary := b.text(t, "summary")
	if !strings.HasPrefix(summary, "500 endpoints") {
		t.Errorf("summary %q", summary)
	}
	b.screenshot(t, "matrix-500")
	from, to := g.Pods[0].String(), g.Pods[1].String()
	if text, ok := b.clickCell(t, from, to); !ok || !strings.Contains(text, from+" → "+to) {
		t.Errorf("clicked %s -> %s: %q", from, to, text)
	}
	b.noConsoleErrors(t)
}
